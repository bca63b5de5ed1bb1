"""Completion: the code to paste into the recruitment site, and the way back to it (by itself after a
pause, with a link as the fallback)."""

from __future__ import annotations

import streamlit as st

from study_app.study.completion import COMPLETED, NO_CONSENT, outcome_code, return_url
from study_app.ui.browser import return_after


def show_way_back(study, outcome: str) -> None:
    """The outcome's code, and the return to the recruitment site when the study gives an address."""
    code = outcome_code(study, outcome)
    if code:
        st.markdown("Your completion code:")
        st.code(code, language=None)
    url = return_url(study, outcome)
    if url is None:
        st.markdown("You can now close this page.")
        return
    if study.redirect_seconds > 0:
        st.markdown(f"You will be returned to Prolific in {study.redirect_seconds:g} seconds. "
                    "If nothing happens, use the button below.")
        return_after(url, study.redirect_seconds, key=f"return_after:{outcome}")
    label = "Return to Prolific" + (" to confirm your completion" if outcome == COMPLETED else "")
    st.link_button(label, url, type="primary")


def render(step, study) -> None:
    st.title("Thank you!")
    st.markdown("You have completed the study. Your answers are saved.")
    show_way_back(study, COMPLETED)


def render_declined(study) -> None:
    st.title("Thank you")
    st.markdown("You chose not to take part. Nothing about you has been stored.")
    show_way_back(study, NO_CONSENT)
