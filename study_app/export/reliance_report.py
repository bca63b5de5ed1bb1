"""Reliance measures from the export's rows, for every task that can give them: the analysis page's tables and
the per-participant ``reliance.csv`` that ``xai-study export`` writes beside ``responses.csv``.

``decision`` tasks give every measure of :mod:`study_app.analysis.reliance` (their arm is the export's ``arm``
column: ``human``, ``ai``, a method key, ``placebo``; advice on request from ``advice_on_request`` and
``answer_advice_requested``); ``verification`` tasks give the ones that need no initial answer (agreement, over-
and under-reliance, accuracy, times), their arm being the maps shown (``methods``). Input is
:func:`study_app.export.trial_rows.response_rows` or the CSV read back, so page and file agree. Every table carries the
empty-denominator convention it was computed under in its ``empty_denominator`` column.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from study_app.analysis.reliance import (
    EXCLUDE,
    ExportColumns,
    check_convention,
    participant_table,
    trials_from_export,
    verification_trials,
)
from study_app.analysis.reliance_arms import N_BOOT, arm_summary
from study_app.store.private_files import open_private
from study_app.study.protocols import PROTOCOLS

DECISION_COLUMNS = ExportColumns(arm="arm")
RELIANCE_PROTOCOLS = tuple(name for name, p in PROTOCOLS.items() if p.reliance)  # decision, verification


def reliance_trials(rows: pd.DataFrame | Iterable[Mapping]) -> dict[str, tuple[str, pd.DataFrame]]:
    """``{task: (protocol, flagged trials)}`` for the tasks among ``rows`` whose protocol has reliance measures
    (its ``reliance``: the answer with the AI's advice, as decision's, or accepting the AI's answer, as
    verification's)."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty or "protocol" not in df or "task" not in df:
        return {}
    out = {}
    for (task, protocol), part in df.groupby(["task", "protocol"], sort=True):
        kind = PROTOCOLS[protocol].reliance if protocol in PROTOCOLS else None
        if kind == "answer_with_advice":
            out[str(task)] = (str(protocol), trials_from_export(part, DECISION_COLUMNS))
        elif kind == "accept_reject":
            out[str(task)] = (str(protocol), verification_trials(part))
    return {task: value for task, value in out.items() if not value[1].empty}


def _with_task(tables: list[pd.DataFrame]) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    return table[["task", "protocol", *[c for c in table.columns if c not in ("task", "protocol")]]]


def participant_reliance(rows: pd.DataFrame | Iterable[Mapping], *, empty: str = EXCLUDE) -> pd.DataFrame:
    """One row per task x participant x arm (:func:`~study_app.analysis.reliance.participant_table` under the
    ``empty`` convention), with ``task`` and ``protocol`` first; empty when no task gives reliance measures."""
    check_convention(empty)
    return _with_task([participant_table(trials, empty=empty).assign(task=task, protocol=protocol)
                       for task, (protocol, trials) in reliance_trials(rows).items()])


def arm_reliance(rows: pd.DataFrame | Iterable[Mapping], *, n_boot: int = N_BOOT, empty: str = EXCLUDE,
                 weighting: str = "participant") -> pd.DataFrame:
    """Per task, arm and measure: estimate, participant-bootstrap interval, pooled share with its Wilson interval
    and notes (:func:`~study_app.analysis.reliance_arms.arm_summary`); measures a task cannot define are left
    out."""
    table = _with_task([arm_summary(trials, n_boot=n_boot, empty=empty, weighting=weighting)
                        .assign(task=task, protocol=protocol)
                        for task, (protocol, trials) in reliance_trials(rows).items()])
    return table if table.empty else table[table["participants"] > 0].reset_index(drop=True)


def write_reliance_csv(rows: pd.DataFrame | Iterable[Mapping], path: str | Path, *, empty: str = EXCLUDE) -> int | None:
    """Write the per-participant measures under the ``empty`` convention to ``path``; returns the row count, or
    ``None`` (nothing written) when no decision or verification task has answers."""
    table = participant_reliance(rows, empty=empty)
    if table.empty:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path, "w", encoding="utf-8", newline="") as fh:  # participants' data: owner-only
        table.to_csv(fh, index=False)
    return len(table)
