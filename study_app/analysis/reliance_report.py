"""Reliance measures from the export's rows, for every task that can give them: the analysis page's tables and
the per-participant ``reliance.csv`` that ``xai-study export`` writes beside ``responses.csv``.

``decision`` tasks give every measure of :mod:`study_app.analysis.reliance` (their arm is the export's ``arm``
column: ``human``, ``ai``, a method key, ``placebo``); ``verification`` tasks give the ones that need no initial
answer (agreement, over- and under-reliance, accuracy, times), their arm being the maps shown (``methods``).
Input is :func:`study_app.store.export.response_rows` or the CSV read back, so page and file agree.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import pandas as pd

from study_app.analysis.reliance import (
    N_BOOT,
    ExportColumns,
    arm_summary,
    participant_table,
    trials_from_export,
    verification_trials,
)
from study_app.study.steps import DECISION, VERIFICATION

DECISION_COLUMNS = ExportColumns(arm="arm")
RELIANCE_PROTOCOLS = (DECISION, VERIFICATION)


def reliance_trials(rows: pd.DataFrame | Iterable[Mapping]) -> dict[str, tuple[str, pd.DataFrame]]:
    """``{task: (protocol, flagged trials)}`` for the decision and verification tasks among ``rows``."""
    df = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(list(rows))
    if df.empty or "protocol" not in df or "task" not in df:
        return {}
    out = {}
    for (task, protocol), part in df.groupby(["task", "protocol"], sort=True):
        if protocol == DECISION:
            out[str(task)] = (DECISION, trials_from_export(part, DECISION_COLUMNS))
        elif protocol == VERIFICATION:
            out[str(task)] = (VERIFICATION, verification_trials(part))
    return {task: value for task, value in out.items() if not value[1].empty}


def participant_reliance(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """One row per task x participant x arm (:func:`~study_app.analysis.reliance.participant_table`), with
    ``task`` and ``protocol`` first; empty when no task gives reliance measures."""
    tables = [participant_table(trials).assign(task=task, protocol=protocol)
              for task, (protocol, trials) in reliance_trials(rows).items()]
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    return table[["task", "protocol", *[c for c in table.columns if c not in ("task", "protocol")]]]


def arm_reliance(rows: pd.DataFrame | Iterable[Mapping], *, n_boot: int = N_BOOT) -> pd.DataFrame:
    """Per task, arm and measure: estimate with its participant-bootstrap 95 % interval
    (:func:`~study_app.analysis.reliance.arm_summary`); measures a task cannot define are left out."""
    tables = [arm_summary(trials, n_boot=n_boot).assign(task=task, protocol=protocol)
              for task, (protocol, trials) in reliance_trials(rows).items()]
    if not tables:
        return pd.DataFrame()
    table = pd.concat(tables, ignore_index=True)
    table = table[table["participants"] > 0]
    return table[["task", "protocol", *[c for c in table.columns if c not in ("task", "protocol")]]]


def write_reliance_csv(rows: pd.DataFrame | Iterable[Mapping], path: str | Path) -> int | None:
    """Write the per-participant measures to ``path``; returns the row count, or ``None`` (nothing written)
    when no decision or verification task has answers."""
    table = participant_reliance(rows)
    if table.empty:
        return None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False)
    return len(table)
