"""Check what a participant submitted against the step, and score it.

The UI should only offer valid answers, but the engine is the last line: a malformed answer would sit in
the database unnoticed until analysis. Each check raises :class:`AnswerError` naming the answer key.

Answer shapes, per step:

* consent: ``{"agree": bool}``
* instructions: ``{}``, or with comprehension questions ``{question_id: option}``; forward-simulation
  ``learn``: ``{}``
* questionnaires: ``{question_id: value}``; choice -> option string, likert/number -> number,
  text -> string, rank -> list of all options in order
* rate ``trust``: ``{"trust": int}``; rate ``explanation``: ``{"effect": {method_key: "helped" |
  "no_effect" | "hurt"}}``
* verification: ``{"decision": "accept" | "reject", "confidence": int}``
* forward-simulation ``predict`` and distinction: ``{"choice": option, "confidence": int (optional)}``
* decision ``initial``: ``{"initial": class, "confidence_initial": int}``; decision ``final``: ``{"final": class,
  "confidence_final": int}``, and where the advice is given on request ``"advice_requested": bool`` with
  ``"advice_requested_ms": int`` (milliseconds from the step being shown to the click) when it was requested

Every trial answer may also carry ``"comment": str`` (free text, up to 10 000 characters).

What is stored is exactly what was sent, after this normalisation and nothing else: a rank (list or tuple)
becomes a list, an effect mapping a plain dict, an optional questionnaire answer that is ``None`` or ``""``
and a ``None`` confidence on a choice trial count as not given (left out). Text is never trimmed or
rewritten: NUL, right-to-left marks and emoji are kept. Text that is not valid Unicode (a lone surrogate such
as U+D800, which a browser can send but UTF-8 cannot encode) is refused with :class:`AnswerError` naming the
field, as are numbers that JSON cannot hold (NaN, infinity). Error messages never echo more than a short,
escaped excerpt of what was sent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping

from study_app.store.records import canonical_json
from study_app.study.answer_checks import (
    UNICODE_HINT,
    int_in,
    no_extra,
    require_mapping,
    show,
    text,
)
from study_app.study.errors import AnswerError
from study_app.study.plan import TrialStep
from study_app.study.protocols import protocol_of
from study_app.study.steps import PHASE_LEARN, Question


def answer_sha256(value) -> str:
    """SHA-256 of the canonical JSON: the event log carries it so stored answers can be shown untouched.

    The validators refuse what cannot be encoded before this runs; the guard here keeps that promise for
    any other caller: an :class:`AnswerError`, never a ``UnicodeEncodeError`` from deep inside.
    """
    try:
        return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    except UnicodeEncodeError as exc:
        raise AnswerError("", f"contains text that is not valid Unicode ({UNICODE_HINT}, at {exc.start})") from exc
    except ValueError as exc:
        raise AnswerError("", f"cannot be stored as JSON ({exc})") from exc


def validate_consent(answer) -> bool:
    answer = require_mapping(answer)
    no_extra(answer, {"agree"})
    agree = answer.get("agree")
    if not isinstance(agree, bool):
        raise AnswerError("agree", "must be true or false")
    return agree


def validate_instructions(questions: tuple[Question, ...], answer) -> dict:
    """The instructions step: an optional comment and the answers to the study's comprehension questions."""
    answer = require_mapping(answer)
    clean = validate_questionnaire(questions, {k: v for k, v in answer.items() if k != "comment"})
    return {**clean, "comment": text("comment", answer["comment"])} if "comment" in answer else clean


def wrong_answers(questions: tuple[Question, ...], answer: Mapping) -> list[str]:
    """Ids of the comprehension questions (those with ``correct``) that ``answer`` does not get right."""
    return [q.id for q in questions if q.correct is not None and answer.get(q.id) != q.correct]


def validate_questionnaire(questions: tuple[Question, ...], answer) -> dict:
    """Check every answer against its question; required questions must be present."""
    answer = require_mapping(answer)
    by_id = {q.id: q for q in questions}
    no_extra(answer, set(by_id))
    clean: dict = {}
    for q in questions:
        value = answer.get(q.id)
        if value is None or value == "":
            if q.required:
                raise AnswerError(q.id, "is required")
            continue
        if q.kind == "choice":
            if not isinstance(value, str) or value not in q.options:
                raise AnswerError(q.id, f"{show(value)} is not one of the options")
        elif q.kind == "likert":
            value = int_in(q.id, value, q.low, q.high)
        elif q.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AnswerError(q.id, f"must be a finite number, got {show(value)}")
            if (q.low is not None and value < q.low) or (q.high is not None and value > q.high):
                raise AnswerError(q.id, f"must be from {q.low} to {q.high}, got {value}")
        elif q.kind == "text":
            value = text(q.id, value, q.max_length)
        elif q.kind == "rank":
            if (not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value)
                    or sorted(value) != sorted(q.options)):
                raise AnswerError(q.id, "must list every option exactly once, best first")
            value = list(value)
        clean[q.id] = value
    return clean


def validate_trial(step: TrialStep, answer) -> dict:
    """Check a trial answer against its plan step (:class:`study_app.study.plan.TrialStep`): the comment here,
    the rest by the step's protocol; a ``learn`` phase asks nothing."""
    answer = require_mapping(answer)
    clean: dict = {}
    if "comment" in answer:
        clean["comment"] = text("comment", answer["comment"])
    if step.phase == PHASE_LEARN:
        no_extra(answer, {"comment"})
        return clean
    clean.update(protocol_of(step.protocol).validate(step, answer))
    return clean


def score_trial(step: TrialStep, answer: Mapping) -> tuple[bool | None, bool | None]:
    """``(participant correct, attention check passed)``; ``None`` where the question has no right answer.

    Whether the participant was right is the protocol's rule (its ``score``): verification when they accept a
    right prediction or reject a wrong one; forward simulation and distinction when they name the class the
    model predicted; a decision when the final answer is the true class (the initial phase is not scored).
    """
    correct = protocol_of(step.protocol).score(step, answer)
    passed = None
    if step.is_attention_check:
        passed = all(answer.get(k) == v for k, v in step.expected.items())
        correct = None  # an attention check says nothing about understanding the model
    return correct, passed
