"""Consent: the study's information text and an explicit choice; nothing is stored before "I agree".

A study with a device gate (``min_viewport_width``, ``allow_phones``) says what it needs here and offers
no consent to a device that does not meet it, with the reason.
"""

from __future__ import annotations

import streamlit as st

from study_app.ui.browser import viewport_width
from study_app.ui.language import _


def device_refusal(gate) -> str | None:
    """Why this browser cannot take part (``None``: it can, or the study has no gate)."""
    if not gate.active:
        return None
    st.info(gate.requirement(_), icon=":material/devices:")
    width = viewport_width() if gate.min_viewport_width is not None else None
    return gate.refusal(user_agent=st.context.headers.get("User-Agent"), viewport_width=width, _=_)


def render(step, study, submission) -> None:
    st.title(study.title)
    st.markdown(step.text)
    refusal = device_refusal(study.device)
    if refusal:
        st.error(refusal, icon=":material/block:")
        return
    with st.form("form:consent", border=False):
        submission.button(_("I agree — start the study"), lambda: ({"agree": True}, []), key="consent_agree")
        submission.button(_("I do not agree"), lambda: ({"agree": False}, []), key="consent_decline", primary=False)
