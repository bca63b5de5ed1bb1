"""Reliance on AI advice: the measures decision-task papers report, per participant and per arm.

Input is a tidy frame of **decision trials**, one row per participant x trial (attention checks already
removed), with these columns (:data:`TRIAL_COLUMNS`):

``participant``      participant id (the export's public id)
``arm``              what the participant was shown on this trial: ``human`` (no advice), ``ai`` (prediction
                     only), an explanation method key, ``placebo``; any string works
``image``            stimulus id
``truth``            the true class
``ai_answer``        the class the AI advised (its top prediction), also on ``human`` trials where it was
                     not shown: agreement there is the chance baseline
``initial_answer``   the participant's own answer before the advice; missing (NaN/None) for one-step designs
``final_answer``     the answer after the advice (the only answer in one-step designs)
``time_first_ms``    milliseconds to the initial answer (optional, may be missing)
``time_final_ms``    milliseconds to the final answer (optional, may be missing)

:func:`decision_trials` checks these and adds the 0/1 columns every measure is built from (NaN where a
trial cannot say): ``ai_correct``, ``initial_correct``, ``final_correct``, ``initial_agrees`` (initial
== AI), ``final_agrees`` (final == AI). :func:`verification_trials` builds the same columns from the
existing ``verification`` export, where accepting the model's answer is agreeing with it and there is no
initial answer, so the measures that need one (switching, RAIR, RSR, accuracy before advice,
complementarity against the participant's own answer) are left undefined there.

Every measure is a share (or a mean) over an **eligible** subset of a participant's trials in one arm;
see :data:`MEASURES`. Participants with no eligible trial have no value for that measure (their count is
reported). Arm estimates default to the mean of participant values (each participant weighs the same, as
the per-participant analyses of the papers below); ``weighting="trial"`` pools trials instead.
Intervals are 95 % percentile bootstraps that resample **participants** (stratified by the set of arms a
participant saw, so between-subject arms keep their sizes and within-subject arms stay paired), with a
fixed seed. Everything is pure: no files, no Streamlit.

References: Schemmer, Kuehl, Benz, Bartos, Satzger (2023), *Appropriate reliance on AI advice:
conceptualization and the effect of explanations*, IUI '23 (RAIR, RSR); Bucinca, Malaya, Gajos (2021),
*To trust or to think*, CSCW (over-reliance); Bansal et al. (2021), *Does the whole exceed its parts?*,
CHI (complementary team performance).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

TRIAL_COLUMNS = ("participant", "arm", "image", "truth", "ai_answer", "initial_answer", "final_answer",
                 "time_first_ms", "time_final_ms")
REQUIRED_COLUMNS = ("participant", "arm", "image", "truth", "ai_answer", "final_answer")
FLAG_COLUMNS = ("ai_correct", "initial_correct", "final_correct", "initial_agrees", "final_agrees")
N_BOOT = 2000
ARM_ORDER = ("human", "none", "ai")  # shown first; ``placebo`` last; the rest alphabetically in between


@dataclass(frozen=True)
class Measure:
    """``value`` averaged over the trials where ``eligible`` is 1 (both are names of columns or of
    expressions in :func:`_measure_arrays`)."""

    name: str
    value: str
    eligible: str
    meaning: str


MEASURES: tuple[Measure, ...] = (
    Measure("accuracy_initial", "initial_correct", "has_initial", "accuracy before advice"),
    Measure("accuracy_final", "final_correct", "all", "accuracy after advice (team accuracy)"),
    Measure("ai_accuracy", "ai_correct", "all", "the AI's accuracy on the same trials (AI alone)"),
    Measure("agreement_initial", "initial_agrees", "has_initial", "initial answer equals the AI's (baseline)"),
    Measure("agreement", "final_agrees", "all", "final answer equals the AI's"),
    Measure("switch_fraction", "final_agrees", "initial_disagrees",
            "changed to the AI's answer, among trials where the initial answer differed from it"),
    Measure("over_reliance", "final_agrees", "ai_wrong", "agreed with the AI, among trials where it was wrong"),
    Measure("under_reliance", "final_disagrees", "ai_right",
            "disagreed with the AI, among trials where it was right"),
    Measure("rair", "final_agrees", "initial_wrong_ai_right",
            "relative positive AI reliance (Schemmer et al. 2023): switched to the AI, among trials where the "
            "initial answer was wrong and the AI right"),
    Measure("rsr", "final_correct", "initial_right_ai_wrong",
            "relative positive self-reliance (Schemmer et al. 2023): kept the own (right) answer, among "
            "trials where the initial answer was right and the AI wrong"),
    Measure("time_first_s", "time_first_s", "has_time_first", "mean seconds to the initial answer"),
    Measure("time_final_s", "time_final_s", "has_time_final", "mean seconds to the final answer"),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """1.0 where equal, 0.0 where different, NaN where either is missing."""
    out = (a.astype("string") == b.astype("string")).astype(float)
    return out.where(a.notna() & b.notna())


def decision_trials(frame: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """The tidy trial frame with the 0/1 flag columns added; raises ``ValueError`` naming missing columns.

    Answers are compared as strings, so ``1`` and ``"1"`` are the same class. ``initial_answer`` and the
    times may be absent altogether (one-step designs).
    """
    df = pd.DataFrame(frame).copy() if not isinstance(frame, pd.DataFrame) else frame.copy()
    missing = [c for c in REQUIRED_COLUMNS if c not in df]
    if missing:
        raise ValueError(f"decision trials need columns {', '.join(missing)}")
    for col in ("initial_answer", "time_first_ms", "time_final_ms"):
        if col not in df:
            df[col] = np.nan
    df["participant"] = df["participant"].astype(str)
    df["arm"] = df["arm"].astype(str)
    df["ai_correct"] = _same(df["ai_answer"], df["truth"])
    df["initial_correct"] = _same(df["initial_answer"], df["truth"])
    df["final_correct"] = _same(df["final_answer"], df["truth"])
    df["initial_agrees"] = _same(df["initial_answer"], df["ai_answer"])
    df["final_agrees"] = _same(df["final_answer"], df["ai_answer"])
    return df.reset_index(drop=True)


@dataclass(frozen=True)
class ExportColumns:
    """Where each tidy column comes from in a long export (``responses.csv``) of a decision task.

    The defaults are the names a two-phase protocol gets from ``xai-study export`` when its phases are
    ``initial`` and ``final`` and its answers carry ``initial`` and ``final`` keys (flattened to
    ``answer_<key>``; per-phase times become ``response_time_ms_<phase>``). A protocol that names them
    otherwise passes its own mapping; a column that the export lacks (one-step designs: no initial answer)
    is left empty.
    """

    participant: str = "participant"
    arm: str = "methods"
    image: str = "image_id"
    truth: str = "true_label"
    ai_answer: str = "predicted_label"
    initial_answer: str = "answer_initial"
    final_answer: str = "answer_final"
    time_first_ms: str = "response_time_ms_initial"
    time_final_ms: str = "response_time_ms_final"


def trials_from_export(rows: pd.DataFrame | Iterable[Mapping], columns: ExportColumns = ExportColumns(), *,
                       task: str | None = None) -> pd.DataFrame:
    """Flagged decision trials from export rows (attention checks and other tasks dropped)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if task is not None and "task" in df:
        df = df[df["task"] == task]
    if "is_attention_check" in df:
        df = df[_truthy(df["is_attention_check"]).fillna(0.0) == 0.0]
    tidy = pd.DataFrame({name: df[source] if source in df else np.nan
                         for name, source in vars(columns).items()}, index=df.index)
    for name in ("initial_answer", "final_answer"):  # an empty CSV cell is no answer
        tidy[name] = tidy[name].replace("", np.nan)
    return decision_trials(tidy)


def _truthy(series: pd.Series) -> pd.Series:
    """The export's ``true``/``false`` cells (or real booleans) as 1.0/0.0, anything else NaN."""
    text = series.astype("string").str.strip().str.lower()
    return text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}).astype(float)


def verification_trials(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Verification rows of ``xai-study export`` (``responses.csv`` or :func:`response_rows`) as flagged trials.

    Accepting the model's answer is agreeing with it (``final_agrees``); ``final_correct`` is the export's
    ``correct`` (accepted a right or rejected a wrong prediction); ``ai_correct`` is ``model_correct``; the
    arm is the ``methods`` column (``none`` for the no-explanation control). A rejection names no class,
    so ``final_answer`` is the predicted label or ``None``. Attention checks are dropped.
    """
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if df.empty:
        return decision_trials(pd.DataFrame(columns=list(REQUIRED_COLUMNS)))
    if "protocol" in df:
        df = df[df["protocol"].astype(str) == "verification"]
    if "is_attention_check" in df:
        df = df[_truthy(df["is_attention_check"]).fillna(0.0) == 0.0]
    accept = df["answer_decision"].astype(str).str.strip() == "accept"
    out = pd.DataFrame({
        "participant": df["participant"].astype(str), "arm": df["methods"].fillna("none").astype(str),
        "image": df["image_id"], "truth": df["true_label"], "ai_answer": df["predicted_label"],
        "initial_answer": np.nan, "final_answer": df["predicted_label"].where(accept, None),
        "time_first_ms": np.nan, "time_final_ms": pd.to_numeric(df.get("response_time_ms"), errors="coerce"),
    }).reset_index(drop=True)
    out["ai_correct"] = _truthy(df["model_correct"]).to_numpy()
    out["initial_correct"] = np.nan
    out["initial_agrees"] = np.nan
    out["final_agrees"] = accept.astype(float).to_numpy()
    out["final_correct"] = _truthy(df["correct"]).to_numpy()
    return out


def _measure_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-trial value and eligibility arrays named as :data:`MEASURES` refers to them."""
    f = {c: df[c].to_numpy(dtype=float) for c in FLAG_COLUMNS}
    t_first = pd.to_numeric(df["time_first_ms"], errors="coerce").to_numpy(dtype=float) / 1000
    t_final = pd.to_numeric(df["time_final_ms"], errors="coerce").to_numpy(dtype=float) / 1000
    has_initial = ~np.isnan(f["initial_correct"])
    arrays = {
        **f, "final_disagrees": 1 - f["final_agrees"], "time_first_s": t_first, "time_final_s": t_final,
        "all": ~np.isnan(f["final_correct"]) & ~np.isnan(f["ai_correct"]), "has_initial": has_initial,
        "initial_disagrees": has_initial & (f["initial_agrees"] == 0),
        "ai_wrong": f["ai_correct"] == 0, "ai_right": f["ai_correct"] == 1,
        "initial_wrong_ai_right": (f["initial_correct"] == 0) & (f["ai_correct"] == 1),
        "initial_right_ai_wrong": (f["initial_correct"] == 1) & (f["ai_correct"] == 0),
        "has_time_first": ~np.isnan(t_first), "has_time_final": ~np.isnan(t_final),
    }
    return arrays


def _ordered_arms(arms: Iterable[str]) -> list[str]:
    arms = set(arms)
    first = [a for a in ARM_ORDER if a in arms]
    last = ["placebo"] if "placebo" in arms else []
    return first + sorted(arms - set(first) - set(last)) + last


def _sums(df: pd.DataFrame) -> tuple[pd.MultiIndex, np.ndarray, np.ndarray]:
    """Per (participant, arm): the sum of each measure's value over eligible trials and the eligible count."""
    arrays = _measure_arrays(df)
    cols = {}
    for m in MEASURES:
        eligible = arrays[m.eligible].astype(bool) & ~np.isnan(arrays[m.value])
        cols[f"{m.name}__num"] = np.where(eligible, arrays[m.value], 0.0)
        cols[f"{m.name}__den"] = eligible.astype(float)
    grouped = pd.DataFrame(cols).groupby([df["participant"], df["arm"]], sort=True).sum()
    num = grouped[[f"{m}__num" for m in MEASURE_NAMES]].to_numpy()
    den = grouped[[f"{m}__den" for m in MEASURE_NAMES]].to_numpy()
    return grouped.index, num, den


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def participant_table(trials: pd.DataFrame) -> pd.DataFrame:
    """One row per participant x arm: ``n_trials``, each measure, ``<measure>_n`` (its eligible trials) and
    ``complementarity`` (final accuracy minus the better of the participant's initial accuracy and the AI's
    accuracy on the same trials; positive: the team beat both). Ready for ``to_csv``."""
    cols = ["participant", "arm", "n_trials", *[c for m in MEASURE_NAMES for c in (m, f"{m}_n")], "complementarity"]
    if trials.empty:
        return pd.DataFrame(columns=cols)
    index, num, den = _sums(trials)
    values = _ratio(num, den)
    out = pd.DataFrame(index.to_frame(index=False))
    out["n_trials"] = trials.groupby(["participant", "arm"], sort=True).size().to_numpy()
    for j, name in enumerate(MEASURE_NAMES):
        out[name] = values[:, j]
        out[f"{name}_n"] = den[:, j].astype(int)
    out["complementarity"] = out["accuracy_final"] - np.fmax(out["accuracy_initial"], out["ai_accuracy"])
    out.loc[out["accuracy_initial"].isna(), "complementarity"] = np.nan
    order = {a: i for i, a in enumerate(_ordered_arms(out["arm"]))}
    return out.sort_values(["arm", "participant"], key=lambda s: s.map(order) if s.name == "arm" else s,
                           kind="stable").reset_index(drop=True)[cols]


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


def _weighted(weights: np.ndarray, num: np.ndarray, den: np.ndarray, weighting: str) -> np.ndarray:
    """Arm estimate for each weight row: mean of participant ratios, or pooled ratio (``trial``)."""
    if weighting == "trial":
        return _ratio(weights @ num, weights @ den)
    defined = den > 0
    return _ratio(weights @ np.where(defined, _ratio(num, den), 0.0), weights @ defined.astype(float))


def arm_summary(trials: pd.DataFrame, *, n_boot: int = N_BOOT, seed: int = 0, weighting: str = "participant",
                level: float = 0.95, human_arm: str = "human") -> pd.DataFrame:
    """Long table ``arm, measure, participants, trials, estimate, ci_low, ci_high``.

    Besides :data:`MEASURES`, three complementarity rows per arm compare team accuracy (``accuracy_final``)
    with the human alone and the AI alone (Bansal et al. 2021): ``complementarity`` (team minus the better
    of initial accuracy and AI accuracy, per participant, then averaged; two-step designs only),
    ``gain_vs_human_arm`` (team minus the ``human_arm``'s accuracy) and ``gain_vs_ai`` (team minus the AI's
    accuracy on the arm's trials). All intervals come from the same participant bootstrap replicates, so
    differences between arms seen by the same participants stay paired.
    """
    cols = ["arm", "measure", "participants", "trials", "estimate", "ci_low", "ci_high"]
    if weighting not in ("participant", "trial"):
        raise ValueError("weighting must be 'participant' or 'trial'")
    if trials.empty:
        return pd.DataFrame(columns=cols)
    index, num, den = _sums(trials)
    keys = index.to_frame(index=False)
    people = pd.Index(sorted(keys["participant"].unique()))
    arms_seen = keys.groupby("participant")["arm"].agg(lambda a: "|".join(sorted(set(a)))).reindex(people)
    weights = np.vstack([np.ones(len(people)), bootstrap_weights(pd.Series(people), arms_seen.reset_index(drop=True),
                                                                 n_boot, seed)])
    alpha = (1 - level) / 2
    k = len(MEASURE_NAMES)
    per_arm: dict[str, np.ndarray] = {}
    records = []

    def add(arm: str, measure: str, stats: np.ndarray, participants: int, n_trials: int) -> None:
        boot = stats[1:][~np.isnan(stats[1:])]
        lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) > 1 and participants > 1 else (np.nan, np.nan))
        records.append({"arm": arm, "measure": measure, "participants": participants, "trials": n_trials,
                        "estimate": float(stats[0]), "ci_low": float(lo), "ci_high": float(hi)})

    for arm in _ordered_arms(keys["arm"]):
        rows = (keys["arm"] == arm).to_numpy()
        pos = people.get_indexer(keys.loc[rows, "participant"])
        arm_num, arm_den = np.zeros((len(people), k)), np.zeros((len(people), k))
        arm_num[pos], arm_den[pos] = num[rows], den[rows]
        stats = _weighted(weights, arm_num, arm_den, weighting)  # (1 + n_boot, k)
        per_arm[arm] = stats
        for j, name in enumerate(MEASURE_NAMES):
            add(arm, name, stats[:, j], int((arm_den[:, j] > 0).sum()), int(arm_den[:, j].sum()))
        acc = {name: _ratio(arm_num[:, j], arm_den[:, j]) for j, name in enumerate(MEASURE_NAMES)}
        comp = acc["accuracy_final"] - np.fmax(acc["accuracy_initial"], acc["ai_accuracy"])
        defined = ~np.isnan(comp) & ~np.isnan(acc["accuracy_initial"])
        comp_stats = _ratio(weights @ np.where(defined, comp, 0.0), weights @ defined.astype(float))
        add(arm, "complementarity", comp_stats, int(defined.sum()), int(arm_den[defined, 0].sum()))
    final, ai = MEASURE_NAMES.index("accuracy_final"), MEASURE_NAMES.index("ai_accuracy")
    for arm, stats in per_arm.items():
        n = next(r["participants"] for r in records if r["arm"] == arm and r["measure"] == "accuracy_final")
        t = next(r["trials"] for r in records if r["arm"] == arm and r["measure"] == "accuracy_final")
        if human_arm in per_arm and arm != human_arm:
            add(arm, "gain_vs_human_arm", stats[:, final] - per_arm[human_arm][:, final], n, t)
        add(arm, "gain_vs_ai", stats[:, final] - stats[:, ai], n, t)
    order = {a: i for i, a in enumerate(per_arm)}
    out = pd.DataFrame(records, columns=cols)
    return out.sort_values("arm", key=lambda s: s.map(order), kind="stable").reset_index(drop=True)
