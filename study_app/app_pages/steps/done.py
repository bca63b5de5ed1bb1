"""Completion: the code to paste into the recruitment site, and the way back to it (by itself after a
pause, with a link as the fallback).

Only a real participant's run gets either. A pilot run (the pilot link) is not a submission on the recruitment
site, so it ends on its own page with no code; the researcher's Preview shows where a participant would be
sent, and sends nobody anywhere."""

from __future__ import annotations

import streamlit as st

from study_app.study.completion import COMPLETED, NO_CONSENT, SCREENED_OUT, outcome_code, return_url
from study_app.ui.browser import return_after
from study_app.ui.language import _, current, ngettext

PARTICIPANT, PILOT, PREVIEW = "participant", "pilot", "preview"  # who is at the end page


def show_way_back(study, outcome: str, run: str = PARTICIPANT) -> None:
    """The outcome's code, and the return to the recruitment site when the study gives an address (``run``:
    :data:`PARTICIPANT`; a :data:`PILOT` gets neither, a :data:`PREVIEW` is told what a participant gets)."""
    if run == PILOT:
        st.info(_("Pilot run finished. A pilot is not a submission: there is no completion code to enter, "
                  "and you are not sent back to the recruitment site."), icon=":material/science:")
        return
    if run == PREVIEW:
        url = return_url(study, outcome)
        where = f"sent to `{url}` after {study.redirect_seconds:g} s" if url else "not sent anywhere (no redirect_url)"
        st.info(f"Preview: a participant sees the code `{outcome_code(study, outcome) or '(none)'}` and is {where}. "
                "Nothing is sent from this preview.", icon=":material/visibility:")
        return
    code = outcome_code(study, outcome)
    if code:
        st.markdown(_("Your completion code:"))
        st.code(code, language=None)
    url = return_url(study, outcome)
    if url is None:
        st.markdown(_("You can now close this page."))
        return
    if study.redirect_seconds > 0:
        seconds = study.redirect_seconds
        st.markdown(ngettext("You will be returned to Prolific in {seconds} second. "
                             "If nothing happens, use the button below.",
                             "You will be returned to Prolific in {seconds} seconds. "
                             "If nothing happens, use the button below.",
                             int(seconds) if float(seconds).is_integer() else 2,  # 2.5: plural
                             ).format(seconds=current().number(seconds)))
        return_after(url, study.redirect_seconds, key=f"return_after:{outcome}")
    label = _("Return to Prolific to confirm your completion") if outcome == COMPLETED else _("Return to Prolific")
    st.link_button(label, url, type="primary")


def render(step, study, run: str = PARTICIPANT) -> None:
    st.title(_("Thank you!"))
    st.markdown(_("You have completed the study. Your answers are saved."))
    show_way_back(study, COMPLETED, run)


def render_screened_out(study, run: str = PARTICIPANT) -> None:
    st.title(_("Thank you for your time"))
    st.markdown(_("This study is looking for answers that follow its instructions closely, so it ends here "
                  "for you. Your time is appreciated; please return to the recruitment site with the code "
                  "below."))
    show_way_back(study, SCREENED_OUT, run)


def render_declined(study, run: str = PARTICIPANT) -> None:
    st.title(_("Thank you"))
    st.markdown(_("You chose not to take part. Nothing about you has been stored."))
    show_way_back(study, NO_CONSENT, run)
