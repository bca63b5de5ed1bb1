"""Completion: the code to paste into the recruitment site, and the way back to it."""

from __future__ import annotations

import streamlit as st


def render(step) -> None:
    st.title("Thank you!")
    st.markdown("You have completed the study. Your answers are saved.")
    if step.completion_code:
        st.markdown("Your completion code:")
        st.code(step.completion_code, language=None)
    if step.redirect_url:
        st.link_button("Return to Prolific to confirm your completion", step.redirect_url, type="primary")
    else:
        st.markdown("You can now close this page.")
