"""Validated questionnaires a study file names by instrument (``{ instrument = "jian_trust" }``): items and
anchors as published, reverse-coded items, subscales and their scoring, citation, reproduction basis and the
source of every translation. Plain Python; the scores per participant and per arm, with Cronbach's alpha, are
in :mod:`study_app.analysis.instrument_scores`."""

from study_app.study.instruments.describe import markdown_table
from study_app.study.instruments.expand import (
    PLACEMENT_OF_SECTION,
    InstrumentError,
    check_placement,
    get_instrument,
    instrument_questions,
)
from study_app.study.instruments.library import INSTRUMENTS
from study_app.study.instruments.model import (
    AFTER_TRIALS,
    BEFORE_TRIALS,
    PER_ARM,
    PLACEMENTS,
    UNVALIDATED,
    Instrument,
    Item,
    Subscale,
)
from study_app.study.instruments.scoring import score_instrument

__all__ = [
    "AFTER_TRIALS", "BEFORE_TRIALS", "INSTRUMENTS", "PER_ARM", "PLACEMENTS", "PLACEMENT_OF_SECTION", "UNVALIDATED",
    "Instrument", "InstrumentError", "Item", "Subscale", "check_placement", "get_instrument",
    "instrument_questions", "markdown_table", "score_instrument",
]
