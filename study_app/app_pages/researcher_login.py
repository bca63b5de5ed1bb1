"""Researcher area, locked: the password form (the router swaps in the researcher pages once it opens)."""

import streamlit as st

from study_app.ui.password_gate import researcher_unlocked
from study_app.ui.resources import app_settings

st.title("Researcher area")
if researcher_unlocked(app_settings()):
    st.rerun()
