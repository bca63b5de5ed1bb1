"""Consent: the study's information text and an explicit choice; nothing is stored before "I agree"."""

from __future__ import annotations

import streamlit as st


def render(step, study) -> dict | None:
    st.title(study.title)
    st.markdown(step.text)
    with st.form("form:consent", border=False):
        agree = st.form_submit_button("I agree — start the study", type="primary", key="consent_agree")
        decline = st.form_submit_button("I do not agree", key="consent_decline")
    if agree:
        return {"agree": True}
    if decline:
        return {"agree": False}
    return None
