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
from study_app.study.errors import AnswerError
from study_app.study.plan import TrialStep
from study_app.study.steps import (
    DECISION,
    EFFECT_OPTIONS,
    PHASE_EXPLANATION,
    PHASE_FINAL,
    PHASE_INITIAL,
    PHASE_LEARN,
    PHASE_MAIN,
    PHASE_PREDICT,
    PHASE_TRUST,
    RATE,
    VERIFICATION,
    VERIFICATION_DECISIONS,
    Question,
)

MAX_TEXT = 10_000


def answer_sha256(value) -> str:
    """SHA-256 of the canonical JSON: the event log carries it so stored answers can be shown untouched.

    The validators refuse what cannot be encoded before this runs; the guard here keeps that promise for
    any other caller: an :class:`AnswerError`, never a ``UnicodeEncodeError`` from deep inside.
    """
    try:
        return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()
    except UnicodeEncodeError as exc:
        raise AnswerError("", f"contains text that is not valid Unicode ({_UNICODE_HINT}, at {exc.start})") from exc
    except ValueError as exc:
        raise AnswerError("", f"cannot be stored as JSON ({exc})") from exc


_UNICODE_HINT = "a lone surrogate character"


def _show(value, limit: int = 40) -> str:
    """A short, printable, UTF-8-safe excerpt of what was sent, for error messages."""
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "…"


def _field_name(key) -> str:
    """A field name taken from the sent keys, made safe to show (escaped, short)."""
    name = key if isinstance(key, str) else str(key)
    name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name if len(name) <= 64 else name[:64] + "…"


def _valid_unicode(field: str, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AnswerError(field, f"contains a character that is not valid Unicode text ({_UNICODE_HINT}, "
                                 f"at position {exc.start})") from None
    return value


def _require_mapping(answer) -> Mapping:
    if not isinstance(answer, Mapping):
        raise AnswerError("", f"expected a dict of answers, got {type(answer).__name__}")
    for key in answer:
        if not isinstance(key, str):
            raise AnswerError(_field_name(key), "answer keys must be strings")
        _valid_unicode(_field_name(key), key)
    return answer


def _int_in(field: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnswerError(field, f"must be an integer from {low} to {high}, got {_show(value)}")
    if not low <= value <= high:
        raise AnswerError(field, f"must be from {low} to {high}, got {value}")
    return value


def _text(field: str, value, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise AnswerError(field, f"must be text, got {type(value).__name__}")
    if len(value) > max_length:
        raise AnswerError(field, f"is {len(value)} characters; at most {max_length} are kept")
    return _valid_unicode(field, value)


def _no_extra(answer: Mapping, allowed: set[str]) -> None:
    extra = sorted(set(answer) - allowed)
    if extra:
        raise AnswerError(_field_name(extra[0]), f"not expected here (expected: {', '.join(sorted(allowed)) or 'nothing'})")


def validate_consent(answer) -> bool:
    answer = _require_mapping(answer)
    _no_extra(answer, {"agree"})
    agree = answer.get("agree")
    if not isinstance(agree, bool):
        raise AnswerError("agree", "must be true or false")
    return agree


def validate_instructions(questions: tuple[Question, ...], answer) -> dict:
    """The instructions step: an optional comment and the answers to the study's comprehension questions."""
    answer = _require_mapping(answer)
    clean = validate_questionnaire(questions, {k: v for k, v in answer.items() if k != "comment"})
    return {**clean, "comment": _text("comment", answer["comment"])} if "comment" in answer else clean


def wrong_answers(questions: tuple[Question, ...], answer: Mapping) -> list[str]:
    """Ids of the comprehension questions (those with ``correct``) that ``answer`` does not get right."""
    return [q.id for q in questions if q.correct is not None and answer.get(q.id) != q.correct]


def validate_questionnaire(questions: tuple[Question, ...], answer) -> dict:
    """Check every answer against its question; required questions must be present."""
    answer = _require_mapping(answer)
    by_id = {q.id: q for q in questions}
    _no_extra(answer, set(by_id))
    clean: dict = {}
    for q in questions:
        value = answer.get(q.id)
        if value is None or value == "":
            if q.required:
                raise AnswerError(q.id, "is required")
            continue
        if q.kind == "choice":
            if not isinstance(value, str) or value not in q.options:
                raise AnswerError(q.id, f"{_show(value)} is not one of the options")
        elif q.kind == "likert":
            value = _int_in(q.id, value, q.low, q.high)
        elif q.kind == "number":
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise AnswerError(q.id, f"must be a finite number, got {_show(value)}")
            if (q.low is not None and value < q.low) or (q.high is not None and value > q.high):
                raise AnswerError(q.id, f"must be from {q.low} to {q.high}, got {value}")
        elif q.kind == "text":
            value = _text(q.id, value, q.max_length)
        elif q.kind == "rank":
            if (not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value)
                    or sorted(value) != sorted(q.options)):
                raise AnswerError(q.id, "must list every option exactly once, best first")
            value = list(value)
        clean[q.id] = value
    return clean


def validate_trial(step: TrialStep, answer) -> dict:
    """Check a trial answer against its plan step (:class:`study_app.study.plan.TrialStep`)."""
    answer = _require_mapping(answer)
    protocol, phase = step.protocol, step.phase
    low, high = step.scale
    clean: dict = {}
    if "comment" in answer:
        clean["comment"] = _text("comment", answer["comment"])
    if phase == PHASE_LEARN:
        _no_extra(answer, {"comment"})
        return clean
    if protocol == RATE and phase == PHASE_TRUST:
        _no_extra(answer, {"trust", "comment"})
        clean["trust"] = _int_in("trust", answer.get("trust"), low, high)
    elif protocol == RATE and phase == PHASE_EXPLANATION:
        _no_extra(answer, {"effect", "comment"})
        effect = answer.get("effect")
        keys = [m.key for m in step.maps]
        if (not isinstance(effect, Mapping) or not all(isinstance(k, str) for k in effect)
                or sorted(effect) != sorted(keys)):
            raise AnswerError("effect", f"must give one of {', '.join(EFFECT_OPTIONS)} for each of {', '.join(keys)}")
        for key, value in effect.items():
            if not isinstance(value, str) or value not in EFFECT_OPTIONS:
                raise AnswerError(f"effect.{key}", f"{_show(value)} is not one of {', '.join(EFFECT_OPTIONS)}")
        clean["effect"] = dict(effect)
    elif protocol == DECISION:
        clean.update(_decision_answer(step, answer))
    elif protocol == VERIFICATION:
        _no_extra(answer, {"decision", "confidence", "comment"})
        if not isinstance(answer.get("decision"), str) or answer["decision"] not in VERIFICATION_DECISIONS:
            raise AnswerError("decision", f"must be one of {', '.join(VERIFICATION_DECISIONS)}")
        clean["decision"] = answer["decision"]
        clean["confidence"] = _int_in("confidence", answer.get("confidence"), low, high)
    else:  # forward-simulation predict, distinction
        _no_extra(answer, {"choice", "confidence", "comment"})
        if not isinstance(answer.get("choice"), str) or answer["choice"] not in step.options:
            raise AnswerError("choice", f"{_show(answer.get('choice'))} is not one of {', '.join(step.options)}")
        clean["choice"] = answer["choice"]
        if answer.get("confidence") is not None:
            clean["confidence"] = _int_in("confidence", answer["confidence"], low, high)
    return clean


def _decision_answer(step: TrialStep, answer: Mapping) -> dict:
    low, high = step.scale
    key = PHASE_INITIAL if step.phase == PHASE_INITIAL else PHASE_FINAL
    on_request = step.phase == PHASE_FINAL and step.advice is not None and step.advice.on_request
    allowed = {key, f"confidence_{key}", "comment"} | ({"advice_requested", "advice_requested_ms"} if on_request else set())
    _no_extra(answer, allowed)
    if not isinstance(answer.get(key), str) or answer[key] not in step.options:
        raise AnswerError(key, f"{_show(answer.get(key))} is not one of {', '.join(step.options)}")
    clean = {key: answer[key], f"confidence_{key}": _int_in(f"confidence_{key}", answer.get(f"confidence_{key}"),
                                                             low, high)}
    if on_request:
        requested = answer.get("advice_requested")
        if not isinstance(requested, bool):
            raise AnswerError("advice_requested", "must be true or false")
        clean["advice_requested"] = requested
        if requested:
            ms = answer.get("advice_requested_ms")
            if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
                raise AnswerError("advice_requested_ms", f"must be a whole number of milliseconds >= 0, got {_show(ms)}")
            clean["advice_requested_ms"] = ms
        elif "advice_requested_ms" in answer:
            raise AnswerError("advice_requested_ms", "only when the advice was requested")
    return clean


def score_trial(step: TrialStep, answer: Mapping) -> tuple[bool | None, bool | None]:
    """``(participant correct, attention check passed)``; ``None`` where the question has no right answer.

    Verification is correct when the participant accepts a right prediction or rejects a wrong one;
    forward simulation and distinction when they name the class the model predicted; a decision when the
    final answer is the true class (the initial phase is not scored: the export's ``answer_initial`` says it).
    """
    correct = None
    model = step.model
    if step.protocol == VERIFICATION:
        correct = (answer["decision"] == "accept") == model.correct
    elif step.protocol == DECISION:  # the trial's outcome is the final answer; the initial one is in the export
        correct = answer[PHASE_FINAL] == step.true_label if step.phase == PHASE_FINAL else None
    elif "choice" in answer and step.phase in (PHASE_PREDICT, PHASE_MAIN):
        correct = answer["choice"] == model.label
    passed = None
    if step.is_attention_check:
        passed = all(answer.get(k) == v for k, v in step.expected.items())
        correct = None  # an attention check says nothing about understanding the model
    return correct, passed
