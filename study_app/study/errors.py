"""Errors the engine raises, each saying which field, file or answer is wrong so it can be fixed."""

from __future__ import annotations

from collections.abc import Iterable


class StudyFileError(ValueError):
    """The study file is invalid. ``field`` is the dotted path of the offending entry (``tasks[1].trials``)."""

    def __init__(self, source: str, field: str, message: str):
        self.source = source
        self.field = field
        self.message = message
        super().__init__(f"{source}: {field}: {message}" if field else f"{source}: {message}")

    @property
    def problems_found(self) -> tuple[StudyFileError, ...]:
        """Every problem this error stands for (itself, or each of a :class:`StudyFileErrors`)."""
        return (self,)


class StudyFileErrors(StudyFileError):
    """Several problems in one study file, reported together so the researcher fixes them in one pass.

    ``field`` is the first problem's, so code that looks at one field still finds one; ``errors`` lists all.
    """

    def __init__(self, errors: Iterable[StudyFileError]):
        self.errors = tuple(e for error in errors for e in error.problems_found)
        first = self.errors[0]
        lines = "".join(f"\n  {e.field or '(file)'}: {e.message}" for e in self.errors)
        super().__init__(first.source, "", f"{len(self.errors)} problems:{lines}")
        self.field = first.field

    @property
    def problems_found(self) -> tuple[StudyFileError, ...]:
        return self.errors

    @classmethod
    def raise_if_any(cls, errors: list[StudyFileError]) -> None:
        """Raise the one error as it is, several as one :class:`StudyFileErrors`; nothing when empty."""
        if len(errors) == 1:
            raise errors[0]
        if errors:
            raise cls(errors)


class AnswerError(ValueError):
    """A submitted answer does not fit the step; ``field`` names the answer key, so the UI can point at it."""

    def __init__(self, field: str, message: str):
        self.field = field
        super().__init__(f"answer field {field!r}: {message}")


class UnknownParticipantError(LookupError):
    """The token is malformed. Unknown but well-formed tokens start a fresh participation instead."""
