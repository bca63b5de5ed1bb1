"""A questionnaire entry that names an instrument, read from the study file with its path in every error:
``{ instrument = "sus", id_prefix = "sus_after", placement = "after_trials" }``."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from study_app.study.fields import Fields
from study_app.study.instruments.expand import PLACEMENT_OF_SECTION, InstrumentError, instrument_questions
from study_app.study.instruments.model import PER_ARM, PLACEMENTS
from study_app.study.steps import Question

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@.-]{0,51}$")  # + "_" + the longest key stays within 64


def parse_instrument_entry(source: str, path: str, raw: Any, section: str,
                           gettext: Callable[[str], str]) -> tuple[str, tuple[Question, ...]]:
    """``(placement, items)``: the instrument's items as likert questions of ``section``, their text in
    ``gettext``'s language, and where they are asked (the section's placement, or ``per_arm``: after each arm's
    block of trials, about that arm, only in ``[[post_questionnaire]]``).

    ``id_prefix`` (default: the instrument's name) starts every item's id; ``placement`` (default: the
    section's) must fit the section and the scale. Raises :class:`~study_app.study.errors.StudyFileError`
    naming the field.
    """
    f = Fields(source, path, raw)
    name = f.text("instrument")
    prefix = f.text("id_prefix", None)
    placement = f.text("placement", None)
    f.finish()
    if section not in PLACEMENT_OF_SECTION:
        raise f.error("instrument", f"instruments go in [[pre_questionnaire]] or [[post_questionnaire]], "
                                    f"not [[{section}]]")
    if prefix is not None and not _ID.match(prefix):
        raise f.error("id_prefix", f"{prefix!r} must be letters, digits, _ - . @ (max 52)")
    if placement is not None and placement not in PLACEMENTS:
        raise f.error("placement", f"{placement!r} is not one of {', '.join(PLACEMENTS)}")
    per_arm = placement == PER_ARM
    if per_arm and section != "post_questionnaire":
        raise f.error("placement", f"'per_arm' is asked after each arm's block of trials: put it in "
                                   f"[[post_questionnaire]], not [[{section}]]")
    if placement is not None and not per_arm and placement != PLACEMENT_OF_SECTION[section]:
        raise f.error("placement", f"{placement!r} does not fit [[{section}]], which is asked "
                                   f"{PLACEMENT_OF_SECTION[section].replace('_', ' ')}")
    try:
        questions = instrument_questions(name, section=section, id_prefix=prefix, gettext=gettext, per_arm=per_arm)
    except InstrumentError as exc:
        raise f.error(exc.field, str(exc)) from None
    return (PER_ARM if per_arm else PLACEMENT_OF_SECTION[section]), questions
