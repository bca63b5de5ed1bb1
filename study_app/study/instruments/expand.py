"""A study file's ``{ instrument = "sus" }`` entry made into the study's ordinary questionnaire items.

Each item becomes a ``likert`` :class:`~study_app.study.steps.Question` with the published response values
and end anchors, in the study's language, so that the questionnaire page, answer validation and the export
treat it like any other item. Its id is ``<id_prefix>_<item key>`` (the prefix defaults to the instrument's
name), which is what :mod:`study_app.study.instruments.scoring` and the analysis look for.
"""

from __future__ import annotations

from collections.abc import Callable

from study_app.study.instruments.library import INSTRUMENTS
from study_app.study.instruments.model import AFTER_TRIALS, BEFORE_TRIALS, PER_ARM, Instrument
from study_app.study.steps import Question

PLACEMENT_OF_SECTION = {"pre_questionnaire": BEFORE_TRIALS, "post_questionnaire": AFTER_TRIALS}


class InstrumentError(ValueError):
    """A study file names an instrument wrongly; ``field`` is the entry's key the message is about."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


def get_instrument(name: str) -> Instrument:
    """The registered instrument ``name``, or :class:`InstrumentError` naming the known ones."""
    if name not in INSTRUMENTS:
        raise InstrumentError("instrument", f"{name!r} is not a known instrument (known: {', '.join(INSTRUMENTS)})")
    return INSTRUMENTS[name]


def check_placement(instrument: Instrument, placement: str) -> None:
    """Refuse a placement the scale does not allow (e.g. usability before anyone used the system)."""
    if placement not in instrument.placements:
        allowed = ", ".join(p.replace("_", " ") for p in instrument.placements)
        raise InstrumentError("instrument", f"{instrument.name!r} may be asked {allowed}, not "
                                            f"{placement.replace('_', ' ')}")


def instrument_questions(name: str, *, section: str, id_prefix: str | None = None,
                         gettext: Callable[[str], str] = lambda s: s, per_arm: bool = False) -> tuple[Question, ...]:
    """The items of instrument ``name`` as questions for questionnaire ``section`` (``pre_questionnaire`` or
    ``post_questionnaire``), their text translated with ``gettext`` (the study's language). ``per_arm``: asked
    after each arm's block of trials (``post_questionnaire`` only; :mod:`study_app.study.arm_blocks`).

    Raises:
        InstrumentError: unknown instrument, or a section the scale may not be asked in.
    """
    instrument = get_instrument(name)
    if section not in PLACEMENT_OF_SECTION:
        raise InstrumentError("instrument", f"instruments go in [[pre_questionnaire]] or [[post_questionnaire]], "
                                            f"not [[{section}]]")
    check_placement(instrument, PER_ARM if per_arm else PLACEMENT_OF_SECTION[section])
    prefix = name if id_prefix is None else id_prefix
    questions = []
    for item in instrument.items:
        low_anchor, high_anchor = item.anchors or (instrument.anchors[0], instrument.anchors[-1])
        questions.append(Question(id=f"{prefix}_{item.key}", text=gettext(item.text), kind="likert",
                                  options=(gettext(low_anchor), gettext(high_anchor)),
                                  low=instrument.low, high=instrument.high))
    return tuple(questions)
