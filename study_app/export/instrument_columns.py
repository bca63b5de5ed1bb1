"""Validated questionnaires' scores in the participants export: ``<section>_<id_prefix>_<score>`` columns (e.g.
``post_sus_sus``, ``post_jian_trust_trust``), and ``..._note`` where a score is empty, naming the missing or
invalid item (:mod:`study_app.analysis.instrument_scores`; scored as published, never prorated). A per-arm
instrument (``placement = "per_arm"``) has its items as ``arm_<arm>_<id_prefix>_<key>`` and its scores as
``arm_<arm>_<id_prefix>_<score>``: one set per arm, filled for the arms the participant answered about (between
subjects: their own arm; within: every arm, each asked right after that arm's block of trials). With
``hive_sequence`` the HIVE ratings (1-5) are ``pre_hive_understanding`` (before the trials),
``post_hive_understanding`` (after them) and ``post_hive_understanding_revealed`` (after the reveal, which showed
``post_hive_revealed_correct`` of ``post_hive_revealed_trials``), and their changes are added:
``hive_change_after_task`` (after - before), ``hive_change_after_reveal`` (revealed - before) and
``hive_change_at_reveal`` (revealed - after); empty where a rating is missing."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from study_app.analysis.instrument_scores import InstrumentUse, find_uses, resolve_uses, score_participants
from study_app.study.hive import CHANGES, ITEM


def add_instrument_scores(participants: list[dict], uses: Sequence[InstrumentUse] | None = None) -> list[dict]:
    """``participants`` (rows of :func:`~study_app.export.participant_rows`) with each instrument's scores added
    in place; ``uses``: what the study file names (its ``id_prefix``), else the instruments found under their
    default prefix."""
    if not participants:
        return participants
    add_hive_changes(participants)
    frame = pd.DataFrame(participants)
    uses = find_uses(frame.columns) if uses is None else [u for u in resolve_uses(uses, frame.columns)
                                                         if set(u.columns().values()) & set(frame)]
    if not uses:
        return participants
    scores = score_participants(frame, uses, keep=())
    for row, extra in zip(participants, scores.to_dict("records"), strict=True):
        row.update({k: None if isinstance(v, float) and math.isnan(v) else v for k, v in extra.items()})
    return participants


def add_hive_changes(participants: list[dict]) -> None:
    """The HIVE ratings' changes (:data:`study_app.study.hive.CHANGES`) on the rows of a study that asked them, in
    place."""
    if not any(f"pre_{ITEM}" in row for row in participants):
        return
    for row in participants:
        for column, (later, earlier) in CHANGES.items():
            a, b = row.get(later), row.get(earlier)
            row[column] = a - b if isinstance(a, int) and isinstance(b, int) else None
