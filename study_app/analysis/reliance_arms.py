"""Reliance per arm: estimates with intervals, and complementary team performance (Bansal et al. 2021).

:func:`arm_summary` turns the flagged trials of :mod:`study_app.analysis.reliance` into a long table, one row per
arm and measure. The arm estimate is the mean of participant values (each participant weighs the same, as the
per-participant analyses of the cited papers; the empty-denominator convention decides who has a value), or with
``weighting="trial"`` the pooled share of all eligible trials (no convention needed).

**Intervals.** ``ci_low``/``ci_high``: 95 % percentile bootstrap that resamples *participants* (stratified by the
set of arms a participant saw, so between-subject arms keep their sizes and within-subject arms stay paired),
fixed seed. With few participants that interval is too narrow: it lacks the t quantile and the (n-1)/n factor, so
for normal data it covers about P(|t_{n-1}| < 1.96 sqrt((n-1)/n)): 81 % at 4 participants, under 90 % below
:data:`MIN_PARTICIPANTS` = 10. Below that, and whenever every resample gives the same value (RAIR 1.0 [1, 1] from 4
participants), ``note`` says so. For shares, ``pooled`` and ``wilson_low``/``wilson_high`` give the share over all
the arm's eligible trials and its Wilson score interval (Wilson 1927), which never collapses on small counts
(4 of 4: [0.51, 1]) but treats trials as independent.

**Complementarity** (Bansal, Wu, Zhou, Fok, Nushi, Kamar, Ribeiro & Weld 2021, *Does the whole exceed its parts?*,
CHI): per arm, team accuracy (``accuracy_final``) minus the better of the human alone and the AI alone.
Human alone (``human_alone`` row) is the ``human`` arm's accuracy where the task has one; otherwise the same arm's
initial (pre-advice) accuracy, and ``note`` says which. AI alone is the AI's accuracy on the arm's trials. The
interval comes from the same bootstrap replicates as every estimate, so it is paired where the same participants
gave both (within subjects). The per-participant variant (mean of final minus the better of own initial and AI,
biased downwards: the mean of maxima exceeds the maximum of means) is ``complementarity_per_participant``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from statsmodels.stats.proportion import proportion_confint

from study_app.analysis.reliance import (
    EXCLUDE,
    MEASURE_NAMES,
    MEASURES,
    check_convention,
    measure_sums,
    ordered_arms,
    participant_values,
    ratio,
)

N_BOOT = 2000
MIN_PARTICIPANTS = 10
CI_METHOD = "participant bootstrap, percentile"
COLUMNS = ["arm", "measure", "empty_denominator", "participants", "empty", "trials", "estimate", "ci_low", "ci_high",
           "pooled", "wilson_low", "wilson_high", "note"]
ARM_MEASURES = (  # (name, meaning, formula, source): rows arm_summary adds to MEASURES
    ("human_alone", "the human-alone accuracy complementarity compares with",
     "accuracy of the human arm; without one, this arm's initial accuracy", ""),
    ("complementarity", "team beats the better of human alone and AI alone (> 0)",
     "accuracy_final - max(human_alone, ai_accuracy), per arm",
     "Bansal et al. 2021, CHI (complementary team performance)"),
    ("complementarity_per_participant", "per-participant variant, biased downwards (not Bansal's measure)",
     "mean over participants of accuracy_final - max(accuracy_initial, ai_accuracy)", ""),
    ("gain_vs_human_arm", "team accuracy minus the human arm's", "accuracy_final - accuracy_final(human arm)", ""),
    ("gain_vs_ai", "team accuracy minus the AI's on the same trials", "accuracy_final - ai_accuracy", ""),
)
ARM_MEASURE_SCOPE = "per arm, from the measures above"


def measure_definitions(*, with_scope: bool = False) -> pd.DataFrame:
    """``measure, meaning, formula, source`` (and ``trials in scope`` with ``with_scope``): every measure the
    reliance tables can hold, as the export, the Analysis page and the pre-registration give them."""
    rows = ([(m.name, m.meaning, m.formula, m.source, m.scope) for m in MEASURES]
            + [(*r, ARM_MEASURE_SCOPE) for r in ARM_MEASURES])
    table = pd.DataFrame(rows, columns=["measure", "meaning", "formula", "source", "trials in scope"])
    return table if with_scope else table.drop(columns="trials in scope")


def wilson_interval(successes: float, n: float, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of ``successes`` out of ``n`` (statsmodels' ``proportion_confint``; NaN for
    ``n = 0``)."""
    if n <= 0:
        return float("nan"), float("nan")
    lo, hi = proportion_confint(successes, n, alpha=1 - level, method="wilson")
    return float(lo), float(hi)


def bootstrap_weights(participants: pd.Series, strata: pd.Series, n_boot: int = N_BOOT, seed: int = 0) -> np.ndarray:
    """``(n_boot, n_participants)`` multiplicities of a participant bootstrap stratified by ``strata``.

    Each replicate draws, within each stratum, as many participants as it has, with replacement; weight
    ``w[b, i]`` is how often participant ``i`` was drawn in replicate ``b``.
    """
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_boot, len(participants)))
    rows = np.arange(n_boot)[:, None]
    for stratum in pd.unique(strata):
        members = np.flatnonzero((strata == stratum).to_numpy())
        picks = members[rng.integers(0, len(members), size=(n_boot, len(members)))]
        np.add.at(weights, (rows, picks), 1.0)
    return weights


def _mean_of(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Weighted mean of the defined (non-NaN) participant values, per weight row."""
    defined = ~np.isnan(values)
    return ratio(weights @ np.where(defined, values, 0.0), weights @ defined.astype(float))


def _interval_note(participants: int, lo: float, hi: float) -> str:
    if participants == 0:
        return ""
    if participants < 2:
        return "1 participant: no bootstrap interval"
    notes = []
    if participants < MIN_PARTICIPANTS:
        notes.append(f"{participants} participants (< {MIN_PARTICIPANTS}): the bootstrap interval is too narrow")
    if lo == hi:
        notes.append("every resample gives the same value: the bootstrap interval has no width")
    return "; ".join(notes)


def arm_summary(trials: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, weighting: str = "participant",
                level: float = 0.95, human_arm: str = "human", empty: str = EXCLUDE) -> pd.DataFrame:
    """Long table (:data:`COLUMNS`): per arm, every measure of :data:`~study_app.analysis.reliance.MEASURES`
    and the rows of :data:`ARM_MEASURES`. ``participants``: participants in the estimate; ``empty``: participants
    whose denominator was empty (left out under ``exclude``, counted 0 under ``zero``); ``trials``: eligible
    trials. See the module text for intervals and complementarity."""
    check_convention(empty)
    if weighting not in ("participant", "trial"):
        raise ValueError("weighting must be 'participant' or 'trial'")
    if trials.empty:
        return pd.DataFrame(columns=COLUMNS)
    sums = measure_sums(trials)
    keys = sums.index.to_frame(index=False)
    people = pd.Index(sorted(keys["participant"].unique()))
    arms_seen = keys.groupby("participant")["arm"].agg(lambda a: "|".join(sorted(set(a)))).reindex(people)
    weights = np.vstack([np.ones(len(people)), bootstrap_weights(pd.Series(people), arms_seen.reset_index(drop=True),
                                                                 n_boot, seed)])
    rows = _Rows(weights=weights, level=level, empty=empty, weighting=weighting)
    stats: dict[str, np.ndarray] = {}
    counts: dict[str, int] = {}
    for arm in ordered_arms(keys["arm"]):
        in_arm = (keys["arm"] == arm).to_numpy()
        pos = people.get_indexer(keys.loc[in_arm, "participant"])
        num, den, scope = (np.zeros((len(people), len(MEASURE_NAMES))) for _ in range(3))
        num[pos], den[pos], scope[pos] = sums.num[in_arm], sums.den[in_arm], sums.scope[in_arm]
        stats[arm], counts[arm] = rows.arm_measures(arm, num, den, scope, pos, is_human=arm == human_arm), len(pos)
    rows.comparisons(stats, counts, human_arm)
    order = {a: i for i, a in enumerate(stats)}
    out = pd.DataFrame(rows.records, columns=COLUMNS)
    return out.sort_values("arm", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)


_COL = {name: j for j, name in enumerate(MEASURE_NAMES)}


@dataclass
class _Rows:
    """The rows of one :func:`arm_summary` call, and what every row shares: the bootstrap ``weights`` (row 0: each
    participant once, the estimate itself), the interval ``level``, the ``empty`` convention and the weighting."""

    weights: np.ndarray
    level: float
    empty: str
    weighting: str
    records: list[dict] = field(default_factory=list)

    def add(self, arm: str, measure: str, series: np.ndarray, participants: int, n_trials: int, *, n_empty: int = 0,
            pooled: tuple[float, float] | None = None, note: str = "") -> None:
        """One row: the estimate (``series[0]``) with its percentile interval over the replicates, and for a
        share its pooled value with the Wilson interval."""
        alpha = (1 - self.level) / 2
        boot = series[1:][~np.isnan(series[1:])]
        lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) > 1 and participants > 1 else (np.nan, np.nan))
        share, w_lo, w_hi = np.nan, np.nan, np.nan
        if pooled is not None and pooled[1] > 0:
            share = pooled[0] / pooled[1]
            w_lo, w_hi = wilson_interval(pooled[0], pooled[1], self.level)
        notes = [n for n in (note, _interval_note(participants, lo, hi)) if n]
        self.records.append({"arm": arm, "measure": measure, "empty_denominator": self.empty,
                             "participants": participants, "empty": n_empty, "trials": n_trials,
                             "estimate": float(series[0]), "ci_low": float(lo), "ci_high": float(hi), "pooled": share,
                             "wilson_low": w_lo, "wilson_high": w_hi, "note": "; ".join(notes)})

    def arm_measures(self, arm: str, num: np.ndarray, den: np.ndarray, scope: np.ndarray, pos: np.ndarray, *,
                     is_human: bool) -> np.ndarray:
        """The rows of every measure, and the per-participant complementarity, of one arm (``num``, ``den``,
        ``scope``: participants × measures, zero for those not in the arm; ``pos``: those in it). Returns the
        arm's estimates, replicates × measures."""
        values = participant_values(num, den, scope, self.empty)
        values[np.setdiff1d(np.arange(len(values)), pos)] = np.nan  # not in this arm
        if self.weighting == "trial":
            arm_stats = ratio(self.weights @ num, self.weights @ den)
        else:
            arm_stats = np.column_stack([_mean_of(self.weights, values[:, j]) for j in range(len(MEASURE_NAMES))])
        for m in MEASURES:
            j = _COL[m.name]
            n_values = (int((~np.isnan(values[:, j])).sum()) if self.weighting == "participant"
                        else int((den[:, j] > 0).sum()))
            n_empty = int(((den[:, j] == 0) & (scope[:, j] > 0)).sum()) if m.conditional else 0
            baseline = is_human and m.scope in ("advised", "advised_initial")
            self.add(arm, m.name, arm_stats[:, j], n_values, int(den[:, j].sum()), n_empty=n_empty,
                     pooled=(num[:, j].sum(), den[:, j].sum()) if m.share else None,
                     note="baseline: the advice is not shown in this arm" if baseline else "")
        per_person = values[:, _COL["accuracy_final"]] - np.fmax(values[:, _COL["accuracy_initial"]],
                                                                  values[:, _COL["ai_accuracy"]])
        if (~np.isnan(per_person)).any():
            self.add(arm, "complementarity_per_participant", _mean_of(self.weights, per_person),
                     int((~np.isnan(per_person)).sum()), int(den[~np.isnan(per_person), _COL["accuracy_final"]].sum()))
        return arm_stats

    def comparisons(self, stats: dict[str, np.ndarray], counts: dict[str, int], human_arm: str) -> None:
        """Each advised arm against human alone and AI alone (see the module text), on the participants and
        trials of its ``accuracy_final`` row."""
        final, initial, ai = _COL["accuracy_final"], _COL["accuracy_initial"], _COL["ai_accuracy"]
        n_final = {r["arm"]: (r["participants"], r["trials"]) for r in self.records if r["measure"] == "accuracy_final"}
        for arm, arm_stats in stats.items():
            if arm == human_arm:
                continue
            n, t = n_final[arm]
            if human_arm in stats:
                human = stats[human_arm][:, final]
                source = f"human alone: the {human_arm} arm ({counts[human_arm]} participants)"
            else:
                human, source = arm_stats[:, initial], "human alone: this arm's initial answers (no human arm)"
            if not np.isnan(human[0]):
                self.add(arm, "human_alone", human, n, t, note=source)
                self.add(arm, "complementarity", arm_stats[:, final] - np.fmax(human, arm_stats[:, ai]), n, t,
                         note=source)
            if human_arm in stats:
                self.add(arm, "gain_vs_human_arm", arm_stats[:, final] - stats[human_arm][:, final], n, t)
            self.add(arm, "gain_vs_ai", arm_stats[:, final] - arm_stats[:, ai], n, t)
