"""What every researcher page starts with: the lock check, a title, the study in use, a lock button."""

from __future__ import annotations

import streamlit as st

from study_app.ui import state_keys
from study_app.ui.password_gate import lock_researcher_area
from study_app.ui.resources import StudyUnavailable, app_settings, study_engine


def researcher_page(title: str, *, need_engine: bool = True):
    """Draws the frame; returns the engine (or ``None`` when the study cannot open, with the reason shown).

    Stops the script for a session that has not unlocked the area (the router should not even offer the
    page then; this is the second lock).
    """
    if not st.session_state.get(state_keys.RESEARCHER_OK):
        st.error("The researcher area is locked.")
        st.stop()
    with st.sidebar:
        if st.button("Lock the researcher area", key="lock_researcher", icon=":material/lock:"):
            lock_researcher_area()
            st.rerun()
    st.title(title)
    settings = app_settings()
    st.caption(f"Study file: `{settings.study_file}` — {settings.source_note}")
    if not need_engine:
        return None
    try:
        return study_engine()
    except StudyUnavailable as exc:
        st.error("The study cannot be opened; participants see a 'not available' page.")
        st.code(str(exc), language=None)
        return None
