"""The small checks every answer validator is built from (the participant-facing validators in
:mod:`study_app.study.answers` and each protocol's in :mod:`study_app.study.protocols`): each raises
:class:`~study_app.study.errors.AnswerError` naming the answer key, and never echoes more than a short, escaped
excerpt of what was sent."""

from __future__ import annotations

from collections.abc import Mapping

from study_app.study.errors import AnswerError

MAX_TEXT = 10_000

UNICODE_HINT = "a lone surrogate character"


def show(value, limit: int = 40) -> str:
    """A short, printable, UTF-8-safe excerpt of what was sent, for error messages."""
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def field_name(key) -> str:
    """A field name taken from the sent keys, made safe to show (escaped, short)."""
    name = key if isinstance(key, str) else str(key)
    name = name.encode("utf-8", "backslashreplace").decode("utf-8")
    return name if len(name) <= 64 else name[:64] + "…"


def valid_unicode(field: str, value: str) -> str:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise AnswerError(field, f"contains a character that is not valid Unicode text ({UNICODE_HINT}, "
                                 f"at position {exc.start})") from None
    return value


def require_mapping(answer) -> Mapping:
    if not isinstance(answer, Mapping):
        raise AnswerError("", f"expected a dict of answers, got {type(answer).__name__}")
    for key in answer:
        if not isinstance(key, str):
            raise AnswerError(field_name(key), "answer keys must be strings")
        valid_unicode(field_name(key), key)
    return answer


def int_in(field: str, value, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnswerError(field, f"must be an integer from {low} to {high}, got {show(value)}")
    if not low <= value <= high:
        raise AnswerError(field, f"must be from {low} to {high}, got {value}")
    return value


def text(field: str, value, max_length: int = MAX_TEXT) -> str:
    if not isinstance(value, str):
        raise AnswerError(field, f"must be text, got {type(value).__name__}")
    if len(value) > max_length:
        raise AnswerError(field, f"is {len(value)} characters; at most {max_length} are kept")
    return valid_unicode(field, value)


def no_extra(answer: Mapping, allowed: set[str]) -> None:
    extra = sorted(set(answer) - allowed)
    if extra:
        raise AnswerError(field_name(extra[0]), f"not expected here (expected: {', '.join(sorted(allowed)) or 'nothing'})")
