"""Reading one TOML table of a study file: every field checked with its path, misspellings named, and the
file's problems gathered table by table so that one ``check`` reports them all."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any, TypeVar

from study_app.study.errors import StudyFileError, StudyFileErrors

T = TypeVar("T")


class Fields:
    """Reads one TOML table, remembering its path for error messages and refusing unknown keys."""

    def __init__(self, source: str, path: str, table: Any):
        self.source, self.path = source, path
        if not isinstance(table, dict):
            raise StudyFileError(source, path, f"expected a table, got {type(table).__name__}")
        self.table = table
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> StudyFileError:
        return StudyFileError(self.source, self.where(key), message)

    def get(self, key: str, kind: type | tuple, default: Any = ..., *, what: str = "") -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.error(key, "is required" + self._misspelt_as(key))
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if bool not in kinds and isinstance(value, bool) and (int in kinds or float in kinds):
            raise self.error(key, f"must be {what or _kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"must be {what or _kind_name(kinds)}, got {type(value).__name__}")
        return value

    def text(self, key: str, default: Any = ..., *, nonempty: bool = True) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and nonempty and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def positive_int(self, key: str, default: Any = ..., *, minimum: int = 1) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be an integer >= {minimum}, got {value}")
        return value

    def finish(self) -> None:
        """Refuses every key the table's reader did not ask for, each with the allowed key it resembles."""
        allowed = ", ".join(sorted(self.used))
        StudyFileErrors.raise_if_any([self.error(key, f"unknown key{_did_you_mean(key, self.used)} (allowed: {allowed})")
                                      for key in sorted(set(self.table) - self.used)])

    def _misspelt_as(self, key: str) -> str:
        """For a missing key, a hint naming the table's unread key that looks like a misspelling of it."""
        close = difflib.get_close_matches(key, [k for k in self.table if k not in self.used], n=1, cutoff=0.75)
        return f" (is {close[0]!r} a misspelling of {key!r}?)" if close else ""


def _did_you_mean(key: str, allowed) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Problems:
    """The study file's problems, gathered table by table: a table's reading stops at its first problem, the
    other tables are still read, so one ``check`` names every broken table and the researcher fixes them in
    one pass (:class:`StudyFileErrors`)."""

    def __init__(self) -> None:
        self.errors: list[StudyFileError] = []

    def read(self, parse: Callable[..., T], *args: Any, **kwargs: Any) -> T | None:
        """``parse(*args, **kwargs)``, or ``None`` with its error kept."""
        try:
            return parse(*args, **kwargs)
        except StudyFileError as exc:
            self.errors.append(exc)
            return None

    def add(self, error: StudyFileError) -> None:
        self.errors.append(error)


def _kind_name(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)
