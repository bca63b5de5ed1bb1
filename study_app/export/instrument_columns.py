"""Validated questionnaires' scores in the participants export: ``<section>_<id_prefix>_<score>`` columns (e.g.
``post_sus_sus``, ``post_jian_trust_trust``), and ``..._note`` where a score is empty, naming the missing or
invalid item (:mod:`study_app.analysis.instrument_scores`; scored as published, never prorated)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from study_app.analysis.instrument_scores import InstrumentUse, find_uses, score_participants


def add_instrument_scores(participants: list[dict], uses: Sequence[InstrumentUse] | None = None) -> list[dict]:
    """``participants`` (rows of :func:`~study_app.export.participant_rows`) with each instrument's scores added
    in place; ``uses``: what the study file names (its ``id_prefix``), else the instruments found under their
    default prefix."""
    if not participants:
        return participants
    frame = pd.DataFrame(participants)
    uses = find_uses(frame.columns) if uses is None else [u for u in uses if set(u.columns().values()) & set(frame)]
    if not uses:
        return participants
    scores = score_participants(frame, uses, keep=())
    for row, extra in zip(participants, scores.to_dict("records"), strict=True):
        row.update({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in extra.items()})
    return participants
