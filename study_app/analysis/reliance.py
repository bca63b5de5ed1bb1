"""Reliance on AI advice: per-trial flags and the per-participant measures decision-task papers report.

Input is a tidy frame of **decision trials**, one row per participant x trial (attention checks already
removed), with these columns (:data:`TRIAL_COLUMNS`):

``participant``        participant id (the export's public id)
``arm``                what the participant was shown on this trial: ``human`` (no advice), ``ai`` (prediction
                       only), an explanation method key, ``placebo``; any string works
``image``              stimulus id
``truth``              the true class
``ai_answer``          the class the AI advised (its top prediction), also on ``human`` trials where it was not
                       shown: agreement there is the chance baseline
``initial_answer``     the participant's own answer before the advice; missing for one-step designs
``final_answer``       the answer after the advice (the only answer in one-step designs)
``advice_on_request``  true where the advice was only shown when asked for (optional; default false)
``advice_requested``   whether it was asked for (optional; only read where ``advice_on_request``)
``time_first_ms``, ``time_final_ms``, ``time_request_ms``   milliseconds to the initial answer, to the final
                       answer, and from the final step being shown to the request (optional)

:func:`decision_trials` checks these and adds 0/1 flags (NaN where a trial cannot say): ``ai_correct``,
``initial_correct``, ``final_correct``, ``initial_agrees`` (initial == AI), ``final_agrees`` (final == AI),
``final_changed`` (final != initial) and ``unrequested`` (1 where the advice was on request and never asked
for: the participant did not see it).

Every measure (:data:`MEASURES`, each with its formula and source) is a share or a mean over the **eligible**
trials of one participant in one arm. **Advice that was not seen is no reliance**: trials with ``unrequested``
enter accuracy and times but no reliance measure (agreement, switching, over-/under-reliance, accuracy-wid,
RAIR, RSR). In the ``human`` arm, where the advice is never shown by design, agreement and over-reliance are
the chance baselines (how often an unaided answer coincides with the AI's).

**Empty denominators** (a participant with no eligible trial for a conditional measure, e.g. no trial with a
wrong initial answer and a right AI for RAIR) follow a named convention (:data:`EMPTY_CONVENTIONS`):
``exclude`` (default) leaves the participant without a value (the count of such participants is reported);
``zero`` counts them as 0 and keeps them in the mean, as the published two-step analyses do (Schemmer et al.
2023; He, Kuiper & Gadiraju 2023). ``zero`` only applies where the participant had trials on which the
measure exists (advice seen, an initial answer given), never to a one-step or human-arm participant.
Arm-level estimates, complementarity and intervals are in :mod:`study_app.analysis.reliance_arms`.
Everything is pure: no files, no Streamlit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from study_app.study.protocols import PROTOCOLS

TRIAL_COLUMNS = ("participant", "arm", "image", "truth", "ai_answer", "initial_answer", "final_answer",
                 "advice_on_request", "advice_requested", "time_first_ms", "time_final_ms", "time_request_ms")
REQUIRED_COLUMNS = ("participant", "arm", "image", "truth", "ai_answer", "final_answer")
OPTIONAL_COLUMNS = tuple(c for c in TRIAL_COLUMNS if c not in REQUIRED_COLUMNS)
FLAG_COLUMNS = ("ai_correct", "initial_correct", "final_correct", "initial_agrees", "final_agrees", "final_changed",
                "unrequested")
ARM_ORDER = ("human", "none", "ai")  # shown first; ``placebo`` last; the rest alphabetically in between
EXCLUDE, ZERO = "exclude", "zero"
EMPTY_CONVENTIONS = (EXCLUDE, ZERO)

SCHEMMER = "Schemmer, Kuehl, Benz, Bartos & Satzger 2023, IUI (appropriate reliance)"
YIN = "Yin, Wortman Vaughan & Wallach 2019, CHI (agreement and switch fraction)"
HE = "He, Kuiper & Gadiraju 2023, CHI (accuracy-wid)"
BUCINCA = "Bucinca, Malaya & Gajos 2021, CSCW (over-reliance; on-demand advice)"


@dataclass(frozen=True)
class Measure:
    """``value`` averaged over a participant's trials in ``scope`` (where the measure exists: e.g. advice seen
    and an initial answer given) that also meet ``subset`` (its condition). All three name arrays of
    :func:`_masks`. ``conditional``: the condition depends on answers or on the AI being right, so a participant
    can have trials in scope and none eligible (the empty-denominator convention decides). ``share``: the value
    is 0/1 (a proportion; Wilson intervals apply)."""

    name: str
    value: str
    scope: str
    subset: str
    meaning: str
    formula: str
    source: str = ""
    conditional: bool = False
    share: bool = True


MEASURES: tuple[Measure, ...] = (
    Measure("accuracy_initial", "initial_correct", "has_initial", "all", "accuracy before advice",
            "#(initial = truth) / #(initial given)"),
    Measure("accuracy_final", "final_correct", "scored", "all",
            "accuracy after advice (team accuracy; every trial, advice seen or not)", "#(final = truth) / #trials"),
    Measure("ai_accuracy", "ai_correct", "scored", "all", "the AI's accuracy on the same trials (AI alone)",
            "#(AI = truth) / #trials"),
    Measure("agreement_initial", "initial_agrees", "has_initial", "all",
            "initial answer equals the AI's (baseline before advice)", "#(initial = AI) / #(initial given)"),
    Measure("agreement", "final_agrees", "advised", "all", "final answer equals the AI's (agreement fraction)",
            "#(final = AI) / #(advice seen)", YIN),
    Measure("switch_to_ai", "final_agrees", "advised_initial", "initial_disagrees",
            "changed to the AI's answer, among trials where the initial answer differed from it (switch fraction)",
            "#(initial != AI, final = AI) / #(initial != AI)", YIN, conditional=True),
    Measure("any_change", "final_changed", "advised_initial", "all",
            "changed the answer at all after the advice (to the AI's or to a third class)",
            "#(final != initial) / #(initial given, advice seen)"),
    Measure("accuracy_wid", "final_correct", "advised_initial", "initial_disagrees",
            "final accuracy on trials where the initial answer differed from the AI's (accuracy-wid)",
            "#(initial != AI, final = truth) / #(initial != AI)", HE, conditional=True),
    Measure("over_reliance", "final_agrees", "advised", "ai_wrong",
            "agreed with the AI, among trials where it was wrong", "#(AI wrong, final = AI) / #(AI wrong)",
            BUCINCA, conditional=True),
    Measure("under_reliance", "final_disagrees", "advised", "ai_right",
            "disagreed with the AI, among trials where it was right", "#(AI right, final != AI) / #(AI right)",
            BUCINCA, conditional=True),
    Measure("rair", "final_agrees", "advised_initial", "initial_wrong_ai_right",
            "relative positive AI reliance: switched to the AI, among trials with a wrong initial answer and a "
            "right AI", "#(initial wrong, AI right, final = AI) / #(initial wrong, AI right)", SCHEMMER,
            conditional=True),
    Measure("rsr", "final_correct", "advised_initial", "initial_right_ai_wrong",
            "relative positive self-reliance: kept the own right answer, among trials with a right initial "
            "answer and a wrong AI", "#(initial right, AI wrong, final = truth) / #(initial right, AI wrong)",
            SCHEMMER, conditional=True),
    Measure("advice_request_rate", "advice_requested", "on_request", "all",
            "asked for the advice, among trials where it was given only on request",
            "#(requested) / #(advice on request)", BUCINCA),
    Measure("time_first_s", "time_first_s", "has_time_first", "all", "mean seconds to the initial answer",
            "mean(time to initial answer)", share=False),
    Measure("time_final_s", "time_final_s", "has_time_final", "all", "mean seconds to the final answer",
            "mean(time from the final step shown to the final answer)", share=False),
    Measure("time_request_s", "time_request_s", "requested", "all",
            "mean seconds from the final step shown to asking for the advice", "mean(time to request)",
            share=False),
)
MEASURE_NAMES = tuple(m.name for m in MEASURES)
MEASURE_BY_NAME = {m.name: m for m in MEASURES}


def check_convention(empty: str) -> str:
    if empty not in EMPTY_CONVENTIONS:
        raise ValueError(f"empty-denominator convention must be {' or '.join(EMPTY_CONVENTIONS)}, got {empty!r}")
    return empty


def _same(a: pd.Series, b: pd.Series) -> pd.Series:
    """1.0 where equal, 0.0 where different, NaN where either is missing."""
    out = (a.astype("string") == b.astype("string")).astype(float)
    return out.where(a.notna() & b.notna())


def truthy(series: pd.Series) -> pd.Series:
    """The export's ``true``/``false`` cells (or real booleans) as 1.0/0.0, anything else NaN."""
    text = series.astype("string").str.strip().str.lower()
    return text.map({"true": 1.0, "false": 0.0, "1": 1.0, "0": 0.0, "1.0": 1.0, "0.0": 0.0}).astype(float)


def decision_trials(frame: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """The tidy trial frame with the 0/1 flag columns added; raises ``ValueError`` naming missing columns.

    Answers are compared as strings, so ``1`` and ``"1"`` are the same class. The optional columns may be absent
    altogether (one-step designs have no initial answer; advice not on request has no request).
    """
    df = pd.DataFrame(frame).copy() if not isinstance(frame, pd.DataFrame) else frame.copy()
    missing = [c for c in REQUIRED_COLUMNS if c not in df]
    if missing:
        raise ValueError(f"decision trials need columns {', '.join(missing)}")
    for col in OPTIONAL_COLUMNS:
        if col not in df:
            df[col] = np.nan
    df["participant"] = df["participant"].astype(str)
    df["arm"] = df["arm"].astype(str)
    df["advice_on_request"] = truthy(df["advice_on_request"]).fillna(0.0)
    requested = truthy(df["advice_requested"]).fillna(0.0)
    df["advice_requested"] = requested.where(df["advice_on_request"] == 1.0)
    df["ai_correct"] = _same(df["ai_answer"], df["truth"])
    df["initial_correct"] = _same(df["initial_answer"], df["truth"])
    df["final_correct"] = _same(df["final_answer"], df["truth"])
    df["initial_agrees"] = _same(df["initial_answer"], df["ai_answer"])
    df["final_agrees"] = _same(df["final_answer"], df["ai_answer"])
    df["final_changed"] = 1.0 - _same(df["final_answer"], df["initial_answer"])
    df["unrequested"] = ((df["advice_on_request"] == 1.0) & (df["advice_requested"] != 1.0)).astype(float)
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
    advice_on_request: str = "advice_on_request"
    advice_requested: str = "answer_advice_requested"
    time_first_ms: str = "response_time_ms_initial"
    time_final_ms: str = "response_time_ms_final"
    time_request_ms: str = "answer_advice_requested_ms"


def trials_from_export(rows: pd.DataFrame | Iterable[Mapping], columns: ExportColumns = ExportColumns(), *,
                       task: str | None = None) -> pd.DataFrame:
    """Flagged decision trials from export rows (attention checks and other tasks dropped)."""
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if task is not None and "task" in df:
        df = df[df["task"] == task]
    if "is_attention_check" in df:
        df = df[truthy(df["is_attention_check"]).fillna(0.0) == 0.0]
    tidy = pd.DataFrame({name: df[source] if source in df else np.nan
                         for name, source in vars(columns).items()}, index=df.index)
    for name in ("initial_answer", "final_answer"):  # an empty CSV cell is no answer
        tidy[name] = tidy[name].replace("", np.nan)
    return decision_trials(tidy)


def verification_trials(rows: pd.DataFrame | Iterable[Mapping]) -> pd.DataFrame:
    """Verification rows of ``xai-study export`` (``responses.csv`` or :func:`response_rows`) as flagged trials.

    Accepting the model's answer is agreeing with it (``final_agrees``); ``final_correct`` is the export's
    ``correct`` (accepted a right or rejected a wrong prediction); ``ai_correct`` is ``model_correct``; the
    arm is the ``methods`` column (``none`` for the no-explanation control). A rejection names no class,
    so ``final_answer`` is the predicted label or ``None``; there is no initial answer, so the measures that
    need one are undefined. Attention checks are dropped.
    """
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    if df.empty:
        return decision_trials(pd.DataFrame(columns=list(REQUIRED_COLUMNS)))
    if "protocol" in df:  # the rows of protocols whose reliance is accepting or rejecting the AI's answer
        df = df[df["protocol"].astype(str).map(lambda p: p in PROTOCOLS and PROTOCOLS[p].reliance == "accept_reject")]
    if "is_attention_check" in df:
        df = df[truthy(df["is_attention_check"]).fillna(0.0) == 0.0]
    accept = df["answer_decision"].astype(str).str.strip() == "accept"
    out = decision_trials(pd.DataFrame({
        "participant": df["participant"].astype(str), "arm": df["methods"].fillna("none").astype(str),
        "image": df["image_id"], "truth": df["true_label"], "ai_answer": df["predicted_label"],
        "final_answer": df["predicted_label"].where(accept, None),
        "time_final_ms": pd.to_numeric(df.get("response_time_ms"), errors="coerce"),
    }).reset_index(drop=True))
    out["ai_correct"] = truthy(df["model_correct"]).to_numpy()
    out["final_agrees"] = accept.astype(float).to_numpy()
    out["final_correct"] = truthy(df["correct"]).to_numpy()
    return out


def _masks(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-trial values, scopes and conditions named as :data:`MEASURES` refers to them."""
    f = {c: df[c].to_numpy(dtype=float) for c in (*FLAG_COLUMNS, "advice_on_request", "advice_requested")}
    times = {f"{c}_s": pd.to_numeric(df[f"{c}_ms"], errors="coerce").to_numpy(dtype=float) / 1000
             for c in ("time_first", "time_final", "time_request")}
    has_initial = ~np.isnan(f["initial_correct"])
    scored = ~np.isnan(f["final_correct"]) & ~np.isnan(f["ai_correct"])
    advised = scored & (f["unrequested"] == 0)
    return {
        **f, **times, "final_disagrees": 1 - f["final_agrees"],
        "all": np.ones(len(df), dtype=bool), "scored": scored, "has_initial": has_initial, "advised": advised,
        "advised_initial": advised & has_initial, "on_request": f["advice_on_request"] == 1,
        "requested": f["advice_requested"] == 1,
        "initial_disagrees": f["initial_agrees"] == 0, "ai_wrong": f["ai_correct"] == 0,
        "ai_right": f["ai_correct"] == 1,
        "initial_wrong_ai_right": (f["initial_correct"] == 0) & (f["ai_correct"] == 1),
        "initial_right_ai_wrong": (f["initial_correct"] == 1) & (f["ai_correct"] == 0),
        "has_time_first": ~np.isnan(times["time_first_s"]), "has_time_final": ~np.isnan(times["time_final_s"]),
    }


@dataclass(frozen=True)
class Sums:
    """Per (participant, arm) row of ``index`` and measure column: the sum of the value over eligible trials
    (``num``), the eligible count (``den``) and the count of trials in the measure's scope (``scope``)."""

    index: pd.MultiIndex
    num: np.ndarray
    den: np.ndarray
    scope: np.ndarray


def measure_sums(df: pd.DataFrame) -> Sums:
    masks = _masks(df)
    cols = {}
    for m in MEASURES:
        in_scope = masks[m.scope].astype(bool) & ~np.isnan(masks[m.value])
        eligible = in_scope & masks[m.subset].astype(bool)
        cols[f"{m.name}__num"] = np.where(eligible, masks[m.value], 0.0)
        cols[f"{m.name}__den"] = eligible.astype(float)
        cols[f"{m.name}__scope"] = in_scope.astype(float)
    grouped = pd.DataFrame(cols).groupby([df["participant"], df["arm"]], sort=True).sum()
    return Sums(grouped.index, *(grouped[[f"{m}__{part}" for m in MEASURE_NAMES]].to_numpy()
                                 for part in ("num", "den", "scope")))


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


CONDITIONAL = np.array([m.conditional for m in MEASURES])


def participant_values(num: np.ndarray, den: np.ndarray, scope: np.ndarray, empty: str) -> np.ndarray:
    """Each participant's value per measure column; under ``zero`` a conditional measure with trials in scope
    but none eligible is 0, under ``exclude`` NaN (as every measure without eligible trials)."""
    values = ratio(num, den)
    if check_convention(empty) == ZERO:
        values = np.where(CONDITIONAL & (den == 0) & (scope > 0), 0.0, values)
    return values


def ordered_arms(arms: Iterable[str]) -> list[str]:
    arms = set(arms)
    first = [a for a in ARM_ORDER if a in arms]
    last = ["placebo"] if "placebo" in arms else []
    return first + sorted(arms - set(first) - set(last)) + last


def participant_table(trials: pd.DataFrame, *, empty: str = EXCLUDE) -> pd.DataFrame:
    """One row per participant x arm: ``empty_denominator`` (the convention), ``n_trials``, each measure,
    ``<measure>_n`` (its eligible trials; 0 with a value of 0 means filled by ``zero``) and
    ``complementarity_per_participant`` (final accuracy minus the better of the participant's initial accuracy
    and the AI's on the same trials; two-step only; it is biased downwards as a team measure; the arm-level
    ``complementarity`` of Bansal et al. is in :mod:`~study_app.analysis.reliance_arms`). Ready for ``to_csv``."""
    check_convention(empty)
    cols = ["participant", "arm", "empty_denominator", "n_trials",
            *[c for m in MEASURE_NAMES for c in (m, f"{m}_n")], "complementarity_per_participant"]
    if trials.empty:
        return pd.DataFrame(columns=cols)
    sums = measure_sums(trials)
    values = participant_values(sums.num, sums.den, sums.scope, empty)
    out = pd.DataFrame(sums.index.to_frame(index=False))
    out["empty_denominator"] = empty
    out["n_trials"] = trials.groupby(["participant", "arm"], sort=True).size().to_numpy()
    for j, name in enumerate(MEASURE_NAMES):
        out[name] = values[:, j]
        out[f"{name}_n"] = sums.den[:, j].astype(int)
    out["complementarity_per_participant"] = (out["accuracy_final"]
                                              - np.fmax(out["accuracy_initial"], out["ai_accuracy"]))
    out.loc[out["accuracy_initial"].isna(), "complementarity_per_participant"] = np.nan
    order = {a: i for i, a in enumerate(ordered_arms(out["arm"]))}
    return out.sort_values(["arm", "participant"], key=lambda s: s.map(order) if s.name == "arm" else s,
                           kind="stable").reset_index(drop=True)[cols]
