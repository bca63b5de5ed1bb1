"""The decision protocol's widgets: the advice behind a request button, and the answer form of each phase.

Answer shapes follow :mod:`study_app.study.answers`: ``{"initial": class, "confidence_initial": n}`` before the
advice, ``{"final": class, "confidence_final": n}`` with it, and where a trial asks only once (the human arm, the
one-step variant) its one answer is stored as ``final`` too, labelled "Your answer". The final phase of a two-step
trial shows the first answer above the advice. Where the study gives the advice on request
(Buçinca et al. 2021), the page shows the image and a button; the click's time, in milliseconds from the
step's first drawing in this browser session, goes into the final answer (``advice_requested_ms``), and
``advice_requested`` says whether the participant asked at all.
"""

from __future__ import annotations

import time

import streamlit as st

from study_app.study.steps import PHASE_INITIAL
from study_app.ui.language import _
from study_app.ui.state_keys import widget_key
from study_app.ui.submission import Submission, widget_value
from study_app.ui.trial_forms import trial_form


def _shown_key(step_id: str) -> str:
    return widget_key(step_id, "shown_monotonic")


def _requested_key(step_id: str) -> str:
    return widget_key(step_id, "advice_requested_ms")


def _request(step_id: str) -> None:
    started = st.session_state.get(_shown_key(step_id), time.monotonic())
    st.session_state[_requested_key(step_id)] = max(0, int(round((time.monotonic() - started) * 1000)))


def advice_visible(step_id: str, trial) -> bool:
    """Whether the advice is drawn now. On request: a button until the participant asks (the click time is
    kept for the answer); otherwise always."""
    st.session_state.setdefault(_shown_key(step_id), time.monotonic())
    if not trial.advice_on_request or st.session_state.get(_requested_key(step_id)) is not None:
        return True
    st.button(_("Show the AI's advice"), key=widget_key(step_id, "request_advice"), on_click=_request,
              args=(step_id,), icon=":material/smart_toy:")
    st.caption(_("You may decide without it."))
    return False


def show_first_answer(trial) -> None:
    """On a two-step trial's final phase, the participant's own first answer, above the advice: the final
    answer is a revision of it, and reliance is measured as that revision (Bansal et al. 2021)."""
    if trial.first_answer is None:
        return
    text = _("Your first answer: **{label}**").format(label=trial.class_label(trial.first_answer))
    if trial.first_confidence is not None:
        low, high = trial.scale
        text += " " + _("(confidence {value} on the scale from {low} to {high})").format(
            value=trial.first_confidence, low=low, high=high)
    st.markdown(text)


def answer_label(trial) -> str:
    """The answer's label: the own answer first, the final answer after the advice, and just "your answer" where
    the trial asks only once (the human arm, one-step, attention checks)."""
    if trial.phase == PHASE_INITIAL:
        return _("What does the image show?")
    return _("Your answer") if trial.sole_answer else _("Your final answer")


def decision_form(step_id: str, trial, submission: Submission) -> None:
    phase = trial.phase
    answer_key, confidence_key = widget_key(step_id, "answer"), widget_key(step_id, "confidence")
    low, high = trial.scale

    def collect():
        choice, confidence = widget_value(answer_key), widget_value(confidence_key)
        missing = [name for name, v in ((_("your answer"), choice), (_("confidence"), confidence)) if v is None]
        if missing:
            return None, missing
        answer: dict = {phase: choice, f"confidence_{phase}": int(confidence)}
        if trial.advice_on_request:
            requested = st.session_state.get(_requested_key(step_id))
            answer["advice_requested"] = requested is not None
            if requested is not None:
                answer["advice_requested_ms"] = int(requested)
        return answer, []

    with trial_form(step_id):  # with the browser's signals, as every trial form
        st.radio(answer_label(trial), list(trial.options), format_func=trial.class_label, index=None,
                 key=answer_key)
        st.radio(_("How confident are you?"), list(range(low, high + 1)), index=None, horizontal=True,
                 key=confidence_key)
        st.caption(_("{low} = guessing, {high} = certain").format(low=low, high=high))
        submission.button(_("Continue"), collect, key=widget_key(step_id, "submit"))
