"""The question part of each trial: one form per step, whose answer is collected by its submit callback.

Answer shapes follow :mod:`study_app.study.answers`. Nothing is pre-selected, so an answer is always the
participant's own choice; a form with a missing answer names what is missing (see
:mod:`study_app.ui.submission`: the answer is read from the submitted widget values and stored before the
next script run, so one run per click draws the next step).
Each form's key includes the step id, so the next trial never inherits the previous trial's widgets.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from study_app.study.steps import DECISION_LABELS, EFFECT_LABELS
from study_app.ui.browser import page_signals
from study_app.ui.language import _, current
from study_app.ui.state_keys import widget_key
from study_app.ui.submission import Submission, widget_value

__all__ = ["DECISION_LABELS", "EFFECT_LABELS", "choice_form", "continue_form", "effect_form", "signals_key",
           "trial_form", "trust_form", "verification_form"]


def _label(labels: dict[str, str]):
    """A ``format_func`` showing a stored value's label in the participant's language (the language is
    taken now, while the page is drawn, not whenever Streamlit calls the function)."""
    gettext = current().gettext
    return lambda value: gettext(labels[value])


def _scale(trial, label: str, key: str, anchors: tuple[str, str]) -> None:
    low, high = trial.scale
    st.radio(label, list(range(low, high + 1)), index=None, horizontal=True, key=key,
             captions=None, help=_("{low} = {low_anchor}, {high} = {high_anchor}").format(
                 low=low, low_anchor=anchors[0], high=high, high_anchor=anchors[1]))


def signals_key(step_id: str) -> str:
    """Where the trial form's page-visibility counts arrive when the form is submitted."""
    return widget_key(step_id, "page_signals")


@contextmanager
def trial_form(step_id: str, border: bool = True) -> Iterator[None]:
    """A trial step's form, carrying the browser's count of hiding and focus loss while it is on screen."""
    with st.form(f"form:{step_id}", border=border):
        page_signals(signals_key(step_id))
        yield


def _continue(submission: Submission, step_id: str, collect, label: str | None = None) -> None:
    submission.button(label or _("Continue"), collect, key=widget_key(step_id, "submit"))


def trust_form(step_id: str, trial, submission: Submission) -> None:
    key = widget_key(step_id, "trust")

    def collect():
        trust = widget_value(key)
        if trust is None:
            return None, [_("how much you trust the prediction")]
        return {"trust": int(trust)}, []

    with trial_form(step_id):
        _scale(trial, _("Do you trust this prediction?"), key, (_("not at all"), _("completely")))
        st.caption(_("{low} = not at all, {high} = completely").format(low=trial.scale[0], high=trial.scale[1]))
        _continue(submission, step_id, collect)


def effect_form(step_id: str, trial, submission: Submission) -> None:
    keys = {m.key: widget_key(step_id, "effect", m.key) for m in trial.methods}
    comment_key = widget_key(step_id, "comment")

    def collect():
        effects = {method: widget_value(key) for method, key in keys.items()}
        missing = [_("the question on {label}").format(label=m.label) for m in trial.methods
                   if effects[m.key] is None]
        if missing:
            return None, missing
        answer: dict = {"effect": effects}
        comment = widget_value(comment_key)
        if comment and comment.strip():
            answer["comment"] = comment.strip()
        return answer, []

    with trial_form(step_id):
        for m in trial.methods:
            st.radio(_("{label}: did this explanation help or confuse your understanding of the prediction?"
                       ).format(label=m.label),
                     list(EFFECT_LABELS), format_func=_label(EFFECT_LABELS), index=None, horizontal=True,
                     key=keys[m.key])
        st.text_area(_("Comment (optional)"), max_chars=10_000, key=comment_key, height=80)
        _continue(submission, step_id, collect)


def verification_form(step_id: str, trial, submission: Submission) -> None:
    decision_key, confidence_key = widget_key(step_id, "decision"), widget_key(step_id, "confidence")

    def collect():
        decision, confidence = widget_value(decision_key), widget_value(confidence_key)
        missing = [name for name, v in ((_("correct or not"), decision), (_("confidence"), confidence))
                   if v is None]
        return (None, missing) if missing else ({"decision": decision, "confidence": int(confidence)}, [])

    with trial_form(step_id):
        st.radio(_("Is the model's prediction correct?"), list(DECISION_LABELS),
                 format_func=_label(DECISION_LABELS), index=None, key=decision_key)
        _scale(trial, _("How confident are you?"), confidence_key, (_("guessing"), _("certain")))
        st.caption(_("{low} = guessing, {high} = certain").format(low=trial.scale[0], high=trial.scale[1]))
        _continue(submission, step_id, collect)


def choice_form(step_id: str, trial, question: str, submission: Submission) -> None:
    """Forward-simulation prediction and distinction: which class (did / will) the model predict?"""
    choice_key, confidence_key = widget_key(step_id, "choice"), widget_key(step_id, "confidence")

    def collect():
        choice, confidence = widget_value(choice_key), widget_value(confidence_key)
        if choice is None:
            return None, [_("which class")]
        answer: dict = {"choice": choice}
        if confidence is not None:
            answer["confidence"] = int(confidence)
        return answer, []

    with trial_form(step_id):
        st.radio(question, list(trial.options), format_func=trial.class_label, index=None, key=choice_key)
        _scale(trial, _("How confident are you? (optional)"), confidence_key, (_("guessing"), _("certain")))
        _continue(submission, step_id, collect)


def continue_form(step_id: str, submission: Submission, label: str | None = None) -> None:
    with trial_form(step_id, border=False):
        _continue(submission, step_id, lambda: ({}, []), label)
