"""One widget per questionnaire item, each with a stable key and usable by keyboard alone.

Nothing is pre-selected (``index=None``): a default answer would be recorded as the participant's own.
:func:`ask_questions` draws the items (inside the caller's form) and :func:`missing_answers` names the
required ones left empty, so the page can refuse to submit an incomplete questionnaire.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import streamlit as st

from study_app.i18n import N_
from study_app.ui.language import _
from study_app.ui.state_keys import widget_key

_PLACE_NAMES = (N_("1st place"), N_("2nd place"), N_("3rd place"))


def _place(i: int) -> str:
    return _(_PLACE_NAMES[i]) if i < len(_PLACE_NAMES) else _("{number}th place").format(number=i + 1)


def _likert_options(q) -> list[int]:
    low, high = int(q.low if q.low is not None else 1), int(q.high if q.high is not None else 7)
    return list(range(low, high + 1))


def _likert_caption(q) -> str | None:
    if len(q.options) >= 2:
        values = _likert_options(q)
        return _("{low} = {low_anchor}, {high} = {high_anchor}").format(
            low=values[0], low_anchor=q.options[0], high=values[-1], high_anchor=q.options[-1])
    return None


def ask_question(q, scope: str):
    """Draw one item; returns the current answer (``None``/empty when not answered)."""
    label = q.text if q.required else _("{question} (optional)").format(question=q.text)
    key = widget_key(scope, q.id)
    if q.kind == "choice":
        return st.radio(label, list(q.options), index=None, key=key)
    if q.kind == "likert":
        return st.radio(label, _likert_options(q), index=None, horizontal=True, key=key,
                        captions=None, help=_likert_caption(q))
    if q.kind == "number":
        return st.number_input(label, min_value=q.low, max_value=q.high, value=None, step=1, key=key)
    if q.kind == "rank":
        return rank_items(label, q.options, scope=scope, item=q.id)
    # "text" and anything unknown: free text, bounded
    return st.text_area(label, max_chars=q.max_length, key=key, height=100)


def rank_items(label: str, options: Sequence[str], *, scope: str, item: str) -> list[str | None]:
    """A ranking as one select box per place, which keyboards and screen readers handle well."""
    st.markdown(f"**{label}**")
    return [
        st.selectbox(_place(i), list(options), index=None, key=widget_key(scope, f"{item}#{i}"),
                     placeholder=_("Choose…"))
        for i in range(len(options))
    ]


def rank_problem(ranking: list[str | None]) -> str | None:
    """Why a ranking cannot be stored yet, or ``None`` when it is a full permutation."""
    if any(r is None for r in ranking):
        return _("give every place a choice")
    if len(set(ranking)) != len(ranking):
        return _("use each choice once")
    return None


def _empty(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def ask_questions(questions: Iterable, scope: str) -> dict:
    return {q.id: ask_question(q, scope) for q in questions}


def submitted_answers(questions: Iterable, scope: str) -> dict:
    """The answers as submitted, read from the widgets' session state (the same keys :func:`ask_question`
    gives them), for a submit callback that runs before the page draws anything."""
    state = st.session_state
    answers = {}
    for q in questions:
        if q.kind == "rank":
            answers[q.id] = [state.get(widget_key(scope, f"{q.id}#{i}")) for i in range(len(q.options))]
        else:
            answers[q.id] = state.get(widget_key(scope, q.id))
    return answers


def missing_answers(questions: Iterable, answers: dict) -> list[str]:
    """Texts of items whose answer is required but missing or (for rankings) incomplete."""
    problems = []
    for q in questions:
        value = answers.get(q.id)
        if q.kind == "rank":
            issue = rank_problem(list(value or []))
            if issue and (q.required or any(v is not None for v in value or [])):
                problems.append(_("{question} ({problem})").format(question=q.text, problem=issue))
        elif q.required and _empty(value):
            problems.append(q.text)
    return problems


def clean_answers(questions: Iterable, answers: dict) -> dict:
    """Drop unanswered optional items; strip text."""
    out = {}
    for q in questions:
        value = answers.get(q.id)
        if isinstance(value, str):
            value = value.strip()
        if _empty(value) or (q.kind == "rank" and rank_problem(list(value or [])) is not None):
            continue
        out[q.id] = value
    return out
