"""Validated questionnaires scored from the participants export: scores per participant, internal
consistency per (sub)scale, and the mean per arm with a 95 % interval.

The export writes questionnaire answers as ``pre_<id>`` / ``post_<id>`` columns; an instrument's items have the
ids ``<id_prefix>_<key>`` (:mod:`study_app.study.instruments`). Scores follow the published rules
(:func:`~study_app.study.instruments.score_instrument`: reverse coding, subscales, no prorating). Internal
consistency is Cronbach's alpha with Feldt's 95 % interval, from pingouin's ``cronbach_alpha`` (listwise:
participants with every item of the subscale), on the items as the score codes them (reverse-coded items
reversed where the score reverses them). The per-arm interval is Student's t on the participants' scores
(between-subjects designs: one score per participant and arm).

A per-arm instrument (``placement = "per_arm"``, :mod:`study_app.study.arm_blocks`) is exported as
``arm_<arm>_<id_prefix>_<key>`` columns, one set per arm the participant worked with; each arm is scored as its
own use (``arm_<arm>_<id_prefix>_<score>``, alpha per arm), and :func:`per_arm_means` gives the mean per arm
over the participants who answered about that arm (within subjects: the same people in every arm, so the
intervals are per arm, not of the differences).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from study_app.study.hive import CHANGES, RATINGS
from study_app.study.instruments import INSTRUMENTS, PER_ARM, get_instrument, score_instrument
from study_app.study.study_file import read_study_file

SECTIONS = ("pre", "post")
ARM = "arm"  # the section of a per-arm use before its arms are known (expanded by resolve_uses)
ARM_PREFIX = "arm_"


@dataclass(frozen=True)
class InstrumentUse:
    """One instrument asked in one questionnaire (``pre`` or ``post``) with its items' id prefix."""

    instrument: str
    section: str
    id_prefix: str

    @property
    def arm(self) -> str | None:
        """The arm a per-arm use is about (section ``arm_<arm>``); ``None`` for pre and post."""
        return self.section[len(ARM_PREFIX):] if self.section.startswith(ARM_PREFIX) else None

    @property
    def label(self) -> str:
        """The score columns' prefix: ``post_sus`` (or ``post_<id_prefix>``)."""
        return f"{self.section}_{self.id_prefix}"

    def columns(self) -> dict[str, str]:
        """Item key -> the export's column of that item."""
        return {k: f"{self.label}_{k}" for k in get_instrument(self.instrument).keys}


def find_uses(columns: Iterable[str]) -> list[InstrumentUse]:
    """The instruments asked with their default prefix (the instrument's name) whose every item has a column,
    per-arm ones once per arm. Pass :class:`InstrumentUse` yourself for an ``id_prefix`` the study file set."""
    present = set(columns)
    found = [use for section in SECTIONS for name in INSTRUMENTS
             if set((use := InstrumentUse(name, section, name)).columns().values()) <= present]
    return found + resolve_uses([InstrumentUse(name, ARM, name) for name in INSTRUMENTS], present)


def resolve_uses(uses: Iterable[InstrumentUse], columns: Iterable[str]) -> list[InstrumentUse]:
    """``uses`` with each per-arm use (section ``arm``) replaced by one use per arm that has a column of its
    first item (``arm_<arm>_<id_prefix>_<key>``), arms sorted."""
    present = set(columns)
    out: list[InstrumentUse] = []
    for use in uses:
        if use.section != ARM:
            out.append(use)
            continue
        tail = f"_{use.id_prefix}_{get_instrument(use.instrument).keys[0]}"
        arms = sorted({c[len(ARM_PREFIX):-len(tail)] for c in present
                       if c.startswith(ARM_PREFIX) and c.endswith(tail) and len(c) > len(ARM_PREFIX) + len(tail)})
        out += [InstrumentUse(use.instrument, ARM_PREFIX + arm, use.id_prefix) for arm in arms]
    return out


def uses_in_study_file(data: Mapping[str, Any]) -> list[InstrumentUse]:
    """The instruments a study file (its TOML, as a dict) names, with their ``id_prefix``: what to pass to the
    functions below when a prefix is not the instrument's name."""
    return [InstrumentUse(entry["instrument"], ARM if entry.get("placement") == PER_ARM else section,
                          entry.get("id_prefix", entry["instrument"]))
            for section in SECTIONS for entry in data.get(f"{section}_questionnaire") or ()
            if isinstance(entry, Mapping) and "instrument" in entry]


def score_participants(rows: pd.DataFrame, uses: Sequence[InstrumentUse] | None = None, *,
                       keep: Sequence[str] = ("participant", "condition", "condition_label")) -> pd.DataFrame:
    """One row per participant: the ``keep`` columns present, then per use and score ``<label>_<score>`` (and
    ``<label>_<score>_note`` where the score is NaN, naming the missing or invalid items)."""
    uses = find_uses(rows.columns) if uses is None else resolve_uses(uses, rows.columns)
    table = rows[[c for c in keep if c in rows.columns]].copy()
    for use in uses:
        name_of = {f"{use.id_prefix}_{k}": column for k, column in use.columns().items()}
        scored = [score_instrument(use.instrument, {qid: row.get(column) for qid, column in name_of.items()},
                                   id_prefix=use.id_prefix) for row in rows.to_dict("records")]
        for sub in get_instrument(use.instrument).subscales:
            table[f"{use.label}_{sub.name}"] = [s[sub.name] for s in scored]
            notes = [s.get(f"{sub.name}_note", "") for s in scored]
            if any(notes):
                table[f"{use.label}_{sub.name}_note"] = notes
    return table.reset_index(drop=True)


def coded_items(rows: pd.DataFrame, use: InstrumentUse, subscale: str) -> pd.DataFrame:
    """The subscale's items as numbers, reverse-coded items reversed where the score reverses them (NaN for
    a missing or off-scale answer), one column per item key."""
    instrument = get_instrument(use.instrument)
    sub = next(s for s in instrument.subscales if s.name == subscale)
    columns = use.columns()
    out = {}
    for key in sub.keys:
        raw = pd.to_numeric(rows[columns[key]], errors="coerce") if columns[key] in rows else np.nan
        values = pd.Series(raw, index=rows.index, dtype=float)
        values = values.where(values.between(instrument.low, instrument.high))
        out[key] = instrument.coded(key, values, sub)
    return pd.DataFrame(out)


def cronbach_alpha(items: pd.DataFrame) -> tuple[float, float, float, int, str]:
    """``(alpha, ci_low, ci_high, n, note)`` over the complete cases; NaN with a note where alpha is undefined
    (fewer than two items or three complete participants, or no variance in the total)."""
    complete = items.dropna()
    n, k = len(complete), items.shape[1]
    if k < 2:
        return math.nan, math.nan, math.nan, n, "one item: no internal consistency"
    if n < 3:
        return math.nan, math.nan, math.nan, n, f"{n} participant(s) with every item: too few for alpha"
    if complete.sum(axis=1).var(ddof=1) == 0:
        return math.nan, math.nan, math.nan, n, "every participant has the same total: alpha undefined"
    import pingouin  # deferred: a heavy optional import (pingouin loads seaborn), only when alpha is asked

    alpha, (low, high) = pingouin.cronbach_alpha(data=complete, ci=0.95)
    return float(alpha), float(low), float(high), n, ""


def internal_consistency(rows: pd.DataFrame, uses: Sequence[InstrumentUse] | None = None) -> pd.DataFrame:
    """Per use and (sub)scale of two or more items: Cronbach's alpha, its 95 % interval (Feldt), the items
    and the complete cases it rests on."""
    uses = find_uses(rows.columns) if uses is None else resolve_uses(uses, rows.columns)
    records = []
    for use in uses:
        for sub in get_instrument(use.instrument).subscales:
            if len(sub.keys) < 2:
                continue
            alpha, low, high, n, note = cronbach_alpha(coded_items(rows, use, sub.name))
            records.append({"score": f"{use.label}_{sub.name}", "instrument": use.instrument, "items": len(sub.keys),
                            "n": n, "alpha": alpha, "ci_low": low, "ci_high": high, "note": note})
    return pd.DataFrame(records, columns=["score", "instrument", "items", "n", "alpha", "ci_low", "ci_high",
                                          "note"])


def mean_interval(values: Iterable[float], level: float = 0.95) -> tuple[int, float, float, float, float]:
    """``(n, mean, sd, low, high)``: Student's t interval of the mean over the non-NaN values."""
    x = np.asarray([v for v in values if not math.isnan(v)], dtype=float)
    n = len(x)
    if n == 0:
        return 0, math.nan, math.nan, math.nan, math.nan
    mean = float(x.mean())
    if n < 2:
        return n, mean, math.nan, math.nan, math.nan
    sd = float(x.std(ddof=1))
    half = float(stats.t.ppf(0.5 + level / 2, n - 1)) * sd / math.sqrt(n)
    return n, mean, sd, mean - half, mean + half


def arm_means(scores: pd.DataFrame, *, arm: str = "condition") -> pd.DataFrame:
    """Per score column of :func:`score_participants` and arm: n (participants with the score), mean, SD and
    the 95 % t interval. For between-subjects designs, where each participant has one arm."""
    score_columns = [c for c in scores.columns
                     if not c.endswith("_note") and c not in ("participant", "condition", "condition_label")]
    records = []
    for column in score_columns:
        for level, group in scores.groupby(arm, sort=True, dropna=False):
            n, mean, sd, low, high = mean_interval(pd.to_numeric(group[column], errors="coerce").tolist())
            records.append({"score": column, arm: level, "n": n, "mean": mean, "sd": sd, "ci_low": low,
                            "ci_high": high})
    return pd.DataFrame(records, columns=["score", arm, "n", "mean", "sd", "ci_low", "ci_high"])


def instrument_notes(uses: Sequence[InstrumentUse], language: str) -> list[str]:
    """What the researcher must read with the scores: per instrument its citation, reproduction basis,
    scoring rule and where the ``language`` text comes from (``this project's translation, not validated``
    where no published version was used)."""
    notes = []
    for name in dict.fromkeys(u.instrument for u in uses):
        i = get_instrument(name)
        source = i.translations.get(language, "no text in this language")
        notes.append(f"{i.title}. Scoring: {i.scoring}. Missing items: {i.missing}. Text ({language}): {source}. "
                     f"Reproduction: {i.licence} Citation: {i.citation}")
    return notes


@dataclass(frozen=True)
class InstrumentSummary:
    """What the Analysis page shows: the mean of each score (per arm where each participant has one), its
    internal consistency, and the uses they come from."""

    means: pd.DataFrame
    consistency: pd.DataFrame
    uses: tuple[InstrumentUse, ...]
    per_arm: pd.DataFrame = field(default_factory=pd.DataFrame)  # per-arm instruments: mean per arm (per_arm_means)

    def notes(self, language: str) -> list[str]:
        return instrument_notes(self.uses, language)


def study_instruments(study_file: str | None) -> list[InstrumentUse]:
    """The instruments a study file names (none when it cannot be read: the page then shows no section)."""
    if not study_file:
        return []
    try:
        return uses_in_study_file(read_study_file(study_file).data)
    except ValueError:
        return []


def instrument_summary(people: pd.DataFrame, uses: Sequence[InstrumentUse], *, between: bool) -> InstrumentSummary:
    """Scores of ``people`` (the participants export's rows), their mean per arm (``between``: each participant
    answered under one arm) or over everyone, and Cronbach's alpha per (sub)scale."""
    uses = resolve_uses(uses, people.columns)
    once = [u for u in uses if u.arm is None]
    scores = score_participants(people, once)
    if not between or "condition_label" not in scores:
        scores = scores.assign(condition_label="all participants")
    return InstrumentSummary(arm_means(scores, arm="condition_label"), internal_consistency(people, uses), tuple(uses),
                             per_arm_means(people, [u for u in uses if u.arm is not None]))


def per_arm_means(people: pd.DataFrame, uses: Sequence[InstrumentUse]) -> pd.DataFrame:
    """Per per-arm use (``arm_<arm>_...``) and score: ``<id_prefix>_<score>``, the arm, n (participants who
    answered about the arm), mean, SD and the 95 % t interval."""
    records = []
    for use in uses:
        scores = score_participants(people, [use], keep=())
        for sub in get_instrument(use.instrument).subscales:
            n, mean, sd, low, high = mean_interval(pd.to_numeric(scores[f"{use.label}_{sub.name}"],
                                                                 errors="coerce").tolist())
            if n:
                records.append({"score": f"{use.id_prefix}_{sub.name}", "arm": use.arm, "n": n, "mean": mean,
                                "sd": sd, "ci_low": low, "ci_high": high})
    return pd.DataFrame(records, columns=["score", "arm", "n", "mean", "sd", "ci_low", "ci_high"])


def hive_summary(people: pd.DataFrame) -> pd.DataFrame:
    """The HIVE sequence (:mod:`study_app.study.hive`): per rating (1-5) and per change (the participant's later
    rating minus the earlier, over those with both: a paired comparison) n, mean, SD and the 95 % t interval.
    Empty when the rows have no HIVE rating."""
    if RATINGS["before"] not in people:
        return pd.DataFrame(columns=["measure", "n", "mean", "sd", "ci_low", "ci_high"])
    number = {c: pd.to_numeric(people[c], errors="coerce") if c in people else pd.Series(np.nan, index=people.index)
              for c in RATINGS.values()}
    series = {f"understanding {when}": number[c] for when, c in RATINGS.items()}
    series |= {change: number[later] - number[earlier] for change, (later, earlier) in CHANGES.items()}
    records = []
    for measure, values in series.items():
        n, mean, sd, low, high = mean_interval(values.tolist())
        records.append({"measure": measure, "n": n, "mean": mean, "sd": sd, "ci_low": low, "ci_high": high})
    return pd.DataFrame(records)
