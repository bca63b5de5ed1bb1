"""Consent: the study's information text and an explicit choice; nothing is stored before "I agree"."""

from __future__ import annotations

import streamlit as st


def render(step, study, submission) -> None:
    st.title(study.title)
    st.markdown(step.text)
    with st.form("form:consent", border=False):
        submission.button("I agree — start the study", lambda: ({"agree": True}, []), key="consent_agree")
        submission.button("I do not agree", lambda: ({"agree": False}, []), key="consent_decline", primary=False)
