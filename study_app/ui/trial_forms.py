"""The question part of each trial: one form per step, returning the answer dict or ``None``.

Answer shapes follow :mod:`study_app.study.answers`. Nothing is pre-selected, so an answer is always the
participant's own choice; a form with a missing answer says what is missing and returns ``None``.
Each form's key includes the step id, so the next trial never inherits the previous trial's widgets.
"""

from __future__ import annotations

import streamlit as st

from study_app.ui.state_keys import widget_key

EFFECT_LABELS = {"helped": "It helped me understand", "no_effect": "No effect", "hurt": "It confused me"}
DECISION_LABELS = {"accept": "Yes, the prediction is correct", "reject": "No, the prediction is wrong"}


def _scale(trial, label: str, key: str, anchors: tuple[str, str]):
    low, high = trial.scale
    return st.radio(label, list(range(low, high + 1)), index=None, horizontal=True, key=key,
                    captions=None, help=f"{low} = {anchors[0]}, {high} = {anchors[1]}")


def _submitted(step_id: str, label: str = "Continue") -> bool:
    return st.form_submit_button(label, type="primary", key=widget_key(step_id, "submit"))


def _refuse(missing: list[str]) -> None:
    st.warning("Please answer: " + "; ".join(missing), icon=":material/edit_note:")


def trust_form(step_id: str, trial) -> dict | None:
    with st.form(f"form:{step_id}"):
        trust = _scale(trial, "Do you trust this prediction?", widget_key(step_id, "trust"),
                       ("not at all", "completely"))
        st.caption(f"{trial.scale[0]} = not at all, {trial.scale[1]} = completely")
        if not _submitted(step_id):
            return None
    if trust is None:
        _refuse(["how much you trust the prediction"])
        return None
    return {"trust": int(trust)}


def effect_form(step_id: str, trial) -> dict | None:
    with st.form(f"form:{step_id}"):
        effects = {}
        for m in trial.methods:
            effects[m.key] = st.radio(
                f"{m.label}: did this explanation help or confuse your understanding of the prediction?",
                list(EFFECT_LABELS), format_func=EFFECT_LABELS.get, index=None, horizontal=True,
                key=widget_key(step_id, "effect", m.key),
            )
        comment = st.text_area("Comment (optional)", max_chars=10_000, key=widget_key(step_id, "comment"),
                               height=80)
        if not _submitted(step_id):
            return None
    missing = [m.label for m in trial.methods if effects[m.key] is None]
    if missing:
        _refuse([f"the question on {label}" for label in missing])
        return None
    answer: dict = {"effect": effects}
    if comment and comment.strip():
        answer["comment"] = comment.strip()
    return answer


def verification_form(step_id: str, trial) -> dict | None:
    with st.form(f"form:{step_id}"):
        decision = st.radio("Is the model's prediction correct?", list(DECISION_LABELS),
                            format_func=DECISION_LABELS.get, index=None, key=widget_key(step_id, "decision"))
        confidence = _scale(trial, "How confident are you?", widget_key(step_id, "confidence"),
                            ("guessing", "certain"))
        st.caption(f"{trial.scale[0]} = guessing, {trial.scale[1]} = certain")
        if not _submitted(step_id):
            return None
    missing = [name for name, v in (("correct or not", decision), ("confidence", confidence)) if v is None]
    if missing:
        _refuse(missing)
        return None
    return {"decision": decision, "confidence": int(confidence)}


def choice_form(step_id: str, trial, question: str) -> dict | None:
    """Forward-simulation prediction and distinction: which class (did / will) the model predict?"""
    with st.form(f"form:{step_id}"):
        choice = st.radio(question, list(trial.options), index=None, key=widget_key(step_id, "choice"))
        confidence = _scale(trial, "How confident are you? (optional)", widget_key(step_id, "confidence"),
                            ("guessing", "certain"))
        if not _submitted(step_id):
            return None
    if choice is None:
        _refuse(["which class"])
        return None
    answer: dict = {"choice": choice}
    if confidence is not None:
        answer["confidence"] = int(confidence)
    return answer


def continue_form(step_id: str, label: str = "Continue") -> dict | None:
    with st.form(f"form:{step_id}", border=False):
        if st.form_submit_button(label, type="primary", key=widget_key(step_id, "submit")):
            return {}
    return None
