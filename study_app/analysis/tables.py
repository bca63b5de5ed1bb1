"""The researcher's analysis: tables and matplotlib figures from the export's rows. No Streamlit here.

Input is exactly what ``xai-study export`` writes (:func:`study_app.export.trial_rows.response_rows` and
``participant_rows``), so the dashboard and the CSV can never disagree. Attention-check trials are left
out of every analysis. Intervals are 95 % percentile bootstraps that resample *participants* (a
participant's trials are not independent), with a fixed seed so the page is stable between refreshes.
Figures are built with ``matplotlib.figure.Figure`` (no pyplot state), which is safe in a threaded server.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from study_app.study.steps import EFFECT_OPTIONS, NO_EXPLANATION

CONTROL = NO_EXPLANATION  # the no-explanation condition
EFFECTS = EFFECT_OPTIONS
N_BOOT = 2000


def trial_frame(rows: Iterable[Mapping]) -> pd.DataFrame:
    """Responses without attention checks; ``method`` is the arm shown (``none`` for the control; a decision
    trial's ``arm``)."""
    df = pd.DataFrame(list(rows))
    if df.empty:
        return df
    if "is_attention_check" in df:
        df = df[~df["is_attention_check"].fillna(False).astype(bool)]
    df = df.assign(method=df.get("methods", pd.Series(CONTROL, index=df.index)).fillna(CONTROL))
    if "arm" in df:  # decision trials: the arm (human, ai, a method, placebo) rather than the maps shown
        df["method"] = df["arm"].where(df["arm"].notna() & (df["arm"] != ""), df["method"])
    return df.reset_index(drop=True)


def bootstrap_mean_ci(values: pd.Series, clusters: pd.Series, n_boot: int = N_BOOT, seed: int = 0,
                      level: float = 0.95) -> tuple[float, float, float]:
    """Mean of ``values`` and a participant-cluster percentile bootstrap interval."""
    frame = pd.DataFrame({"v": values.astype(float), "c": clusters}).dropna()
    if frame.empty:
        return (float("nan"),) * 3
    sums = frame.groupby("c")["v"].agg(["sum", "count"]).to_numpy()
    mean = sums[:, 0].sum() / sums[:, 1].sum()
    if len(sums) < 2:
        return mean, float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    picks = rng.integers(0, len(sums), size=(n_boot, len(sums)))
    boot = sums[picks, 0].sum(axis=1) / sums[picks, 1].sum(axis=1)
    alpha = (1 - level) / 2
    return float(mean), float(np.quantile(boot, alpha)), float(np.quantile(boot, 1 - alpha))


ARM_LABELS = {CONTROL: "no explanation", "human": "human alone", "ai": "AI advice", "placebo": "placebo map"}


def method_labels(study) -> dict[str, str]:
    """Display names for the figures: each method key's label from the study file, and the built-in arms."""
    return {**ARM_LABELS, **{m.key: m.label for m in study.methods}}


def tick_label(key: str, labels: Mapping[str, str] | None = None, width: int = 14) -> str:
    """A figure's name for a method key or a ``;``-joined combination (side by side), wrapped to ``width``
    characters a line so that neighbouring labels never overlap."""
    labels = labels or {}
    name = " + ".join(labels.get(part, part) for part in str(key).split(";"))
    return "\n".join(textwrap.wrap(name, width, break_on_hyphens=False)) or name


def _set_method_ticks(ax, positions, methods: list[str], labels: Mapping[str, str] | None) -> None:
    names = [tick_label(m, labels) for m in methods]
    ax.set_xticks(positions, names, fontsize=8 if len(methods) > 5 else 9)
    if len(methods) > 6:  # even wrapped, many labels side by side need a slant
        ax.tick_params(axis="x", labelrotation=30)


def _ordered_methods(methods: Iterable[str]) -> list[str]:
    methods = sorted(set(methods))
    return ([CONTROL] if CONTROL in methods else []) + [m for m in methods if m != CONTROL]


def accuracy_by_method(df: pd.DataFrame, by: str | None = None) -> pd.DataFrame:
    """Participant accuracy per method (control first), optionally split by ``by`` (e.g. model_correct)."""
    cols = ["method", *([by] if by else []), "trials", "accuracy", "ci_low", "ci_high"]
    if df.empty or "correct" not in df or df["correct"].dropna().empty:
        return pd.DataFrame(columns=cols)
    scored = df.dropna(subset=["correct"])
    out = []
    groups = [None] if by is None else sorted(scored[by].dropna().unique())
    for method in _ordered_methods(scored["method"]):
        for group in groups:
            part = scored[scored["method"] == method]
            if by is not None:
                part = part[part[by] == group]
            if part.empty:
                continue
            mean, lo, hi = bootstrap_mean_ci(part["correct"].astype(bool), part["participant"])
            row = {"method": method, "trials": len(part), "accuracy": mean, "ci_low": lo, "ci_high": hi}
            if by is not None:
                row[by] = group
            out.append(row)
    return pd.DataFrame(out, columns=cols)


def answer_column_by_method(df: pd.DataFrame, column: str) -> pd.DataFrame:
    """Long table ``method, value`` of a numeric answer column (trust, confidence) where answered."""
    if df.empty or column not in df:
        return pd.DataFrame(columns=["method", "value"])
    part = df[["method", column]].dropna()
    return pd.DataFrame({"method": part["method"], "value": pd.to_numeric(part[column], errors="coerce")}).dropna()


def effect_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Helped / no effect / hurt counts per method key, from ``answer_effect_<key>`` columns."""
    cols = [c for c in df.columns if c.startswith("answer_effect_")] if not df.empty else []
    records = []
    for col in cols:
        counts = df[col].value_counts()
        records.append({"method": col.removeprefix("answer_effect_"), **{e: int(counts.get(e, 0)) for e in EFFECTS}})
    return pd.DataFrame(records, columns=["method", *EFFECTS])


def response_times(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty or "response_time_ms" not in df:
        return pd.DataFrame(columns=["method", "seconds"])
    part = df[["method", "response_time_ms"]].dropna()
    return pd.DataFrame({"method": part["method"], "seconds": part["response_time_ms"].astype(float) / 1000})


def ranking_summary(participant_rows: Iterable[Mapping], column: str = "post_method_rank") -> pd.DataFrame:
    """Mean rank (1 = most useful) and first-place count per method label."""
    ranks: dict[str, list[int]] = {}
    for row in participant_rows:
        order = row.get(column)
        if isinstance(order, (list, tuple)):
            for position, label in enumerate(order, start=1):
                ranks.setdefault(str(label), []).append(position)
    records = [{"method": label, "participants": len(v), "mean_rank": float(np.mean(v)),
                "first_place": sum(1 for p in v if p == 1)} for label, v in ranks.items()]
    return pd.DataFrame(records, columns=["method", "participants", "mean_rank", "first_place"]).sort_values(
        "mean_rank", kind="stable").reset_index(drop=True)


# ---- figures ----------------------------------------------------------------------------------------


def _empty_figure(message: str) -> Figure:
    fig = Figure(figsize=(6, 2.2))
    ax = fig.subplots()
    ax.axis("off")
    ax.text(0.5, 0.5, message, ha="center", va="center", fontsize=11)
    return fig


def accuracy_figure(table: pd.DataFrame, title: str = "Participant accuracy by method (95 % bootstrap CI)",
                    labels: Mapping[str, str] | None = None) -> Figure:
    if table.empty:
        return _empty_figure("No scored answers yet")
    split = [c for c in table.columns if c not in ("method", "trials", "accuracy", "ci_low", "ci_high")]
    fig = Figure(figsize=(7, 3.4), layout="constrained")
    ax = fig.subplots()
    methods = list(dict.fromkeys(table["method"]))
    groups = list(dict.fromkeys(table[split[0]])) if split else [None]
    width = 0.8 / len(groups)
    for j, group in enumerate(groups):
        part = table if group is None else table[table[split[0]] == group]
        x = np.array([methods.index(m) for m in part["method"]]) + (j - (len(groups) - 1) / 2) * width
        err = np.vstack([part["accuracy"] - part["ci_low"], part["ci_high"] - part["accuracy"]])
        label = None if group is None else f"{split[0]} = {group}"
        ax.bar(x, part["accuracy"], width=width, yerr=np.nan_to_num(err), capsize=4, label=label)
    if CONTROL in methods and not split:
        control = float(table[table["method"] == CONTROL]["accuracy"].iloc[0])
        ax.axhline(control, color="grey", linestyle="--", linewidth=1, label="control (no explanation)")
    _set_method_ticks(ax, range(len(methods)), methods, labels)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(title, fontsize=10)
    if any(g is not None for g in groups) or CONTROL in methods:
        ax.legend(fontsize=8)
    return fig


def distribution_figure(long: pd.DataFrame, value: str, title: str, xlabel: str,
                        labels: Mapping[str, str] | None = None) -> Figure:
    if long.empty:
        return _empty_figure(f"No {xlabel} answers yet")
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    methods = _ordered_methods(long["method"])
    data = [long[long["method"] == m][value].to_numpy() for m in methods]
    ax.boxplot(data, showmeans=True)
    _set_method_ticks(ax, range(1, len(methods) + 1), methods, labels)
    ax.set_ylabel(xlabel)
    ax.set_title(title, fontsize=10)
    return fig


def effect_figure(counts: pd.DataFrame, labels: Mapping[str, str] | None = None) -> Figure:
    if counts.empty:
        return _empty_figure("No helpfulness answers yet")
    fig = Figure(figsize=(7, 3.0), layout="constrained")
    ax = fig.subplots()
    totals = counts[list(EFFECTS)].sum(axis=1).replace(0, 1)
    left = np.zeros(len(counts))
    colours = {"helped": "#1b9e77", "no_effect": "#bdbdbd", "hurt": "#d95f02"}
    for effect in EFFECTS:
        share = counts[effect] / totals
        ax.barh([tick_label(m, labels, 24) for m in counts["method"]], share, left=left, label=effect.replace("_", " "), color=colours[effect])
        left += share.to_numpy()
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of answers")
    ax.set_title("Did the explanation help or confuse understanding?", fontsize=10)
    ax.legend(fontsize=8, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.08))
    return fig


def ranking_figure(summary: pd.DataFrame, labels: Mapping[str, str] | None = None) -> Figure:
    if summary.empty:
        return _empty_figure("No rankings yet")
    fig = Figure(figsize=(7, 2.8), layout="constrained")
    ax = fig.subplots()
    ax.barh([tick_label(m, labels, 24) for m in summary["method"]], summary["mean_rank"], color="#7570b3")
    ax.invert_yaxis()
    ax.set_xlabel("mean rank (1 = most useful)")
    ax.set_title("Method ranking", fontsize=10)
    return fig
