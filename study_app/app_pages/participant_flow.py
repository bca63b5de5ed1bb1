"""One script run of the participant page: find the participant, draw their step, pass the answer on.

The engine (and through it the database) decides the step; this module only draws it and forwards the
answer. A reload starts a fresh Streamlit session, so the token travels in the URL (``?p=...``) and the
participant resumes at the same step. Answers the engine refuses are shown as a gentle request to check
them; anything unexpected becomes a friendly message with a reference (see ``ui.friendly_errors``).
"""

from __future__ import annotations

import logging
import time

import streamlit as st

from study_app.app_pages.steps import consent, done, instructions, questionnaire, trial
from study_app.study import AnswerError
from study_app.study.steps import (
    CONSENT,
    DECLINED,
    DONE,
    INSTRUCTIONS,
    POST_QUESTIONNAIRE,
    PRE_QUESTIONNAIRE,
    TRIAL,
    WITHDRAWN,
)
from study_app.ui import state_keys
from study_app.ui.friendly_errors import friendly_errors
from study_app.ui.resources import StudyUnavailable, study_engine

ENDED = "participant_ended"
timing = logging.getLogger("study_app.timing")  # DEBUG lines "page_built"; benchmarks/load_test.py reads them  # "declined" / "withdrawn": shown until the participant starts again


def participant_token(engine) -> str:
    """The token from the URL (a reload) or this session, or a new one; written back into the URL."""
    given = st.query_params.get(state_keys.TOKEN_PARAM) or st.session_state.get(state_keys.PARTICIPANT_TOKEN)
    params = {k: st.query_params.get(k) for k in state_keys.PROLIFIC_PARAMS if k in st.query_params}
    try:
        token = engine.start_or_resume(given, external_ids=params)
    except ValueError:
        st.warning("The link you followed carries an unreadable participant id; it was ignored.")
        token = engine.start_or_resume(given)
    st.session_state[state_keys.PARTICIPANT_TOKEN] = token
    if st.query_params.get(state_keys.TOKEN_PARAM) != token:
        st.query_params[state_keys.TOKEN_PARAM] = token
    return token


def forget_participant() -> None:
    st.session_state.pop(state_keys.PARTICIPANT_TOKEN, None)
    st.query_params.pop(state_keys.TOKEN_PARAM, None)


def show_progress(step) -> None:
    answered, total = step.progress
    if total > 0:
        st.progress(min(1.0, answered / total), text=f"Progress: step {min(answered + 1, total)} of {total}")


def draw_step(step, engine) -> dict | None:
    """Draw ``step``; returns the participant's answer once they submit it, else ``None``."""
    if step.kind == CONSENT:
        return consent.render(step, engine.study)
    if step.kind in (PRE_QUESTIONNAIRE, POST_QUESTIONNAIRE):
        return questionnaire.render(step)
    if step.kind == INSTRUCTIONS:
        return instructions.render(step, engine)
    if step.kind == TRIAL:
        return trial.render(step)
    if step.kind == DONE:
        done.render(step)
        return None
    raise ValueError(f"unknown step kind {step.kind!r}")


def submit(engine, token: str, step, answer: dict) -> None:
    try:
        following = engine.submit(token, step.step_id, answer)
    except AnswerError as err:
        st.warning(f"Please check your answer ({err.field or 'answer'}): it could not be saved as given.",
                   icon=":material/edit_note:")
        return
    if following.kind in (DECLINED, WITHDRAWN):
        st.session_state[ENDED] = following.kind
        forget_participant()
    st.rerun()


def offer_withdrawal(engine, token: str) -> None:
    with st.expander("Withdraw from the study"):
        st.markdown("You can stop at any time. Withdrawing **deletes every answer you have given** here.")
        sure = st.checkbox("Yes, delete my answers and leave the study", key="withdraw_confirm")
        if st.button("Withdraw and delete my answers", key="withdraw_button", disabled=not sure):
            engine.withdraw(token)
            st.session_state[ENDED] = WITHDRAWN
            forget_participant()
            st.rerun()


def show_ended(kind: str) -> None:
    if kind == DECLINED:
        st.title("Thank you")
        st.markdown("You chose not to take part. Nothing about you has been stored. You can close this page.")
    else:
        st.title("You have withdrawn")
        st.markdown("Your answers have been deleted. Thank you for your time; you can close this page.")
    if st.button("Start again", key="start_again"):
        st.session_state.pop(ENDED, None)
        st.rerun()


def run_participant_flow() -> None:
    start, built = time.perf_counter(), {"kind": "none", "submitted": False}
    try:
        _participant_run(built)
    finally:
        if timing.isEnabledFor(logging.DEBUG):
            timing.debug("page_built kind=%s submitted=%d ms=%.2f", built["kind"], built["submitted"],
                         (time.perf_counter() - start) * 1000)


def _participant_run(built: dict) -> None:
    with friendly_errors():
        try:
            engine = study_engine()
        except StudyUnavailable:
            st.title("This study is not available right now")
            st.markdown("Please try again later. If you came from a recruitment site, you can contact the "
                        "research team there.")
            return
        ended = st.session_state.get(ENDED)
        if ended:
            show_ended(ended)
            return
        token = participant_token(engine)
        step = engine.current_step(token)
        built["kind"] = step.kind
        if step.kind not in (CONSENT, DONE):
            show_progress(step)
        answer = draw_step(step, engine)
        if answer is not None:
            built["submitted"] = True
            submit(engine, token, step, answer)
        if step.kind not in (CONSENT, DONE):
            offer_withdrawal(engine, token)
