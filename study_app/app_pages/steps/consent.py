"""Consent: the study's information text and an explicit choice; nothing is stored before "I agree".

A study with a device gate (``min_viewport_width``, ``allow_phones``) says what it needs here and offers
no consent to a device that does not meet it, with the reason. While the page has not yet reported the
window's width (its script loads late on a slow connection) it says it is checking and offers no buttons;
the answer carries what was measured, and the engine checks the gate again before enrolling anyone.
"""

from __future__ import annotations

import streamlit as st

from study_app.study.completion import with_code
from study_app.study.recruitment import quota_full_code
from study_app.ui.browser import viewport_width
from study_app.ui.language import _

CHECKING = object()  # the width the gate needs is not known yet


def measured_device(gate) -> dict:
    """What this browser reported that the gate looks at (sent with the consent answer)."""
    width = viewport_width() if gate.needs_width() else None
    return {"viewport_width": width, "user_agent": st.context.headers.get("User-Agent")}


def device_refusal(gate, device: dict):
    """Why this browser cannot take part (``None``: it can, or the study has no gate; :data:`CHECKING`: the
    width is not known yet)."""
    if not gate.active:
        return None
    st.info(gate.requirement(_), icon=":material/devices:")
    refusal = gate.refusal(user_agent=device["user_agent"], viewport_width=device["viewport_width"], _=_)
    if refusal is None and gate.needs_width() and device["viewport_width"] is None:
        return CHECKING
    return refusal


def render_full(study) -> None:
    """The study's caps take no newcomer: say so politely, with the code to take back to Prolific."""
    st.info(_("Thank you for your interest. This study already has all the participants it needs, so we cannot "
              "start it with you. You have not been recorded and nothing about you was stored."),
            icon=":material/group:")
    code = quota_full_code(study)
    if code is None:
        st.markdown(_("Please return the study on Prolific (\"Stop without completing\"), so that it does not "
                      "count against you."))
        return
    st.markdown(_("Please return to Prolific with this code: **{code}**").format(code=code))
    if study.redirect_url:
        st.link_button(_("Return to Prolific"), with_code(study.redirect_url, code))


def render(step, study, submission) -> None:
    st.title(study.title)
    if step.full:
        render_full(study)
        return
    st.markdown(step.text)
    device = measured_device(study.device) if study.device.active else {}
    refusal = device_refusal(study.device, device)
    if refusal is CHECKING:
        st.caption(_("Checking your browser window…"))
        return
    if refusal:
        st.error(refusal, icon=":material/block:")
        return
    with st.form("form:consent", border=False):
        submission.button(_("I agree — start the study"), lambda: ({"agree": True, **device}, []),
                          key="consent_agree")
        submission.button(_("I do not agree"), lambda: ({"agree": False}, []), key="consent_decline", primary=False)
