"""Errors the engine raises, each saying which field, file or answer is wrong so it can be fixed."""

from __future__ import annotations


class StudyFileError(ValueError):
    """The study file is invalid. ``field`` is the dotted path of the offending entry (``tasks[1].trials``)."""

    def __init__(self, source: str, field: str, message: str):
        self.source = source
        self.field = field
        super().__init__(f"{source}: {field}: {message}" if field else f"{source}: {message}")


class AnswerError(ValueError):
    """A submitted answer does not fit the step; ``field`` names the answer key, so the UI can point at it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"answer field {field!r}: {message}")


class UnknownParticipantError(LookupError):
    """The token is malformed. Unknown but well-formed tokens start a fresh participation instead."""
