"""The question part of each trial: one form per step, whose answer is collected by its submit callback.

Answer shapes follow :mod:`study_app.study.answers`. Nothing is pre-selected, so an answer is always the
participant's own choice; a form with a missing answer names what is missing (see
:mod:`study_app.ui.submission`: the answer is read from the submitted widget values and stored before the
next script run, so one run per click draws the next step).
Each form's key includes the step id, so the next trial never inherits the previous trial's widgets.
"""

from __future__ import annotations

import streamlit as st

from study_app.ui.state_keys import widget_key
from study_app.ui.submission import Submission, widget_value

EFFECT_LABELS = {"helped": "It helped me understand", "no_effect": "No effect", "hurt": "It confused me"}
DECISION_LABELS = {"accept": "Yes, the prediction is correct", "reject": "No, the prediction is wrong"}


def _scale(trial, label: str, key: str, anchors: tuple[str, str]) -> None:
    low, high = trial.scale
    st.radio(label, list(range(low, high + 1)), index=None, horizontal=True, key=key,
             captions=None, help=f"{low} = {anchors[0]}, {high} = {anchors[1]}")


def _continue(submission: Submission, step_id: str, collect, label: str = "Continue") -> None:
    submission.button(label, collect, key=widget_key(step_id, "submit"))


def trust_form(step_id: str, trial, submission: Submission) -> None:
    key = widget_key(step_id, "trust")

    def collect():
        trust = widget_value(key)
        return (None, ["how much you trust the prediction"]) if trust is None else ({"trust": int(trust)}, [])

    with st.form(f"form:{step_id}"):
        _scale(trial, "Do you trust this prediction?", key, ("not at all", "completely"))
        st.caption(f"{trial.scale[0]} = not at all, {trial.scale[1]} = completely")
        _continue(submission, step_id, collect)


def effect_form(step_id: str, trial, submission: Submission) -> None:
    keys = {m.key: widget_key(step_id, "effect", m.key) for m in trial.methods}
    comment_key = widget_key(step_id, "comment")

    def collect():
        effects = {method: widget_value(key) for method, key in keys.items()}
        missing = [f"the question on {m.label}" for m in trial.methods if effects[m.key] is None]
        if missing:
            return None, missing
        answer: dict = {"effect": effects}
        comment = widget_value(comment_key)
        if comment and comment.strip():
            answer["comment"] = comment.strip()
        return answer, []

    with st.form(f"form:{step_id}"):
        for m in trial.methods:
            st.radio(f"{m.label}: did this explanation help or confuse your understanding of the prediction?",
                     list(EFFECT_LABELS), format_func=EFFECT_LABELS.get, index=None, horizontal=True,
                     key=keys[m.key])
        st.text_area("Comment (optional)", max_chars=10_000, key=comment_key, height=80)
        _continue(submission, step_id, collect)


def verification_form(step_id: str, trial, submission: Submission) -> None:
    decision_key, confidence_key = widget_key(step_id, "decision"), widget_key(step_id, "confidence")

    def collect():
        decision, confidence = widget_value(decision_key), widget_value(confidence_key)
        missing = [name for name, v in (("correct or not", decision), ("confidence", confidence)) if v is None]
        return (None, missing) if missing else ({"decision": decision, "confidence": int(confidence)}, [])

    with st.form(f"form:{step_id}"):
        st.radio("Is the model's prediction correct?", list(DECISION_LABELS), format_func=DECISION_LABELS.get,
                 index=None, key=decision_key)
        _scale(trial, "How confident are you?", confidence_key, ("guessing", "certain"))
        st.caption(f"{trial.scale[0]} = guessing, {trial.scale[1]} = certain")
        _continue(submission, step_id, collect)


def choice_form(step_id: str, trial, question: str, submission: Submission) -> None:
    """Forward-simulation prediction and distinction: which class (did / will) the model predict?"""
    choice_key, confidence_key = widget_key(step_id, "choice"), widget_key(step_id, "confidence")

    def collect():
        choice, confidence = widget_value(choice_key), widget_value(confidence_key)
        if choice is None:
            return None, ["which class"]
        answer: dict = {"choice": choice}
        if confidence is not None:
            answer["confidence"] = int(confidence)
        return answer, []

    with st.form(f"form:{step_id}"):
        st.radio(question, list(trial.options), index=None, key=choice_key)
        _scale(trial, "How confident are you? (optional)", confidence_key, ("guessing", "certain"))
        _continue(submission, step_id, collect)


def continue_form(step_id: str, submission: Submission, label: str = "Continue") -> None:
    with st.form(f"form:{step_id}", border=False):
        _continue(submission, step_id, lambda: ({}, []), label)
