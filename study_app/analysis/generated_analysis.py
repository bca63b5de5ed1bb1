"""The body of the generated ``analysis.py``: read the export, write descriptive tables, fit and check the models.

``xai-study analysis-script`` writes this module's text verbatim into ``analysis.py`` (after the settings
and :mod:`study_app.analysis.laplace_glmm`), followed by one :func:`main` call with the study's tasks, so
it imports nothing of the project. ``analysis.R`` (:mod:`study_app.analysis.scripts_r`) applies the same
rules, names its terms and files the same way, and fits the same models with lme4.

Per task: accuracy (protocols with a right answer) ``correct ~ arm * ai_correct + (1 | participant) +
(1 | image)``; reliance (decision and verification) ``agree ~ arm + (1 | participant) + (1 | image)`` on
AI-wrong trials (over-reliance) and on AI-right trials, and (two-step decision) switching to the AI among
trials whose initial answer differed from it. Reliance counts only **trials where the advice was shown**:
not the ``human`` arm, and with ``advice_on_request`` only trials where it was requested. Likert items get
proportional-odds models with participant-clustered standard errors (statsmodels has no mixed version).
"""

import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats
from statsmodels.miscmodels.ordinal_model import OrderedModel

from study_app.analysis.laplace_glmm import LaplaceGLMM  # embedded: analysis.py defines it above

RELIANCE_MEASURES = {  # column: (outcome, trials it is the share of)
    "accuracy_final": ("correct", "all trials"),
    "agreement_ai_wrong": ("agree", "advice shown and the AI wrong (over-reliance)"),
    "agreement_ai_right": ("agree", "advice shown and the AI right (1 - under-reliance)"),
    "switch_fraction": ("agree", "advice shown and the initial answer differing from the AI's"),
}
LARGE_LOG_ODDS, LARGE_SE = 10.0, 5.0


def flag(column):
    return column.astype(str).str.strip().str.lower().map({"true": 1.0, "false": 0.0})


def load_export(path):
    """The export's scored trials as text cells; ``arm``: the decision arm, else the maps shown."""
    d = pd.read_csv(path, dtype=str, keep_default_na=False)
    d = d[flag(d["is_attention_check"]).fillna(0.0) == 0.0].copy()
    arm = d["arm"] if "arm" in d else pd.Series("", index=d.index)
    d["arm"] = arm.where(arm != "", d["methods"])
    return d


class Results:
    """Writes tables into ``out`` and keeps one status line per model (``model_status.csv``)."""

    def __init__(self, out):
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.rows = []

    def table(self, name, frame):
        path = self.out / f"{name}.csv"
        frame.to_csv(path, index=False)
        print(f"\n== {name} ==\n{frame.round(4).to_string(index=False)}\n(written to {path})")

    def status(self, task, model, state, participants, trials, message):
        self.rows.append({"task": task, "model": model, "status": state, "participants": participants,
                          "trials": trials, "message": message})
        print(f"\n[{task} / {model}] {state.upper()}: {message}")

    def finish(self):
        self.table("model_status", pd.DataFrame(
            self.rows, columns=["task", "model", "status", "participants", "trials", "message"]))


def trial_frame(t, reliance):
    """Per trial: correct, ai_correct, agree (with the AI), initial_differs (initial answer != AI's) and
    advice_shown, as 0/1 (NaN: the trial cannot say). Decision: agree is final == AI; the ``human`` arm
    and, with ``advice_on_request``, trials without a request did not show the advice. Verification: the
    AI's answer is always shown and accepting it is agreeing; there is no initial answer."""
    def col(name):
        return t[name] if name in t else pd.Series("", index=t.index)

    out = pd.DataFrame({"participant": t["participant"], "image": t["image_id"], "arm": t["arm"],
                        "correct": flag(col("correct")), "ai_correct": flag(col("model_correct"))})
    if reliance == "answer_with_advice":
        ai, final, initial = col("predicted_label"), col("answer_final"), col("answer_initial")
        out["agree"] = (final == ai).astype(float).where((final != "") & (ai != ""))
        out["initial_differs"] = (initial != ai).astype(float).where((initial != "") & (ai != ""))
        not_requested = (flag(col("advice_on_request")) == 1.0) & (flag(col("answer_advice_requested")) != 1.0)
        out["advice_shown"] = ((t["arm"] != "human") & ~not_requested).astype(float)
    else:
        decision = col("answer_decision")
        out["agree"] = (decision == "accept").astype(float).where(decision != "")
        out["initial_differs"] = np.nan
        out["advice_shown"] = 1.0 if reliance == "accept_reject" else np.nan
    return out


def measure_trials(f, measure):
    """(eligible trials, base trials) for a measure: a participant with base trials but no eligible one
    has an empty denominator."""
    if measure == "accuracy_final":
        base = f["correct"].notna()
        return base, base
    base = f["advice_shown"] == 1.0
    kind = {"agreement_ai_wrong": f["ai_correct"] == 0.0, "agreement_ai_right": f["ai_correct"] == 1.0,
            "switch_fraction": f["initial_differs"] == 1.0}[measure]
    return base & kind & f["agree"].notna(), base & f["agree"].notna()


def descriptives(results, task, f, measures, convention):
    """Per participant x arm and per arm (the mean of participant values) under the empty-denominator
    ``convention``: ``exclude`` leaves a participant without eligible trials out, ``zero`` counts 0."""
    keys = ["participant", "arm"]
    per = f.groupby(keys).size().rename("trials").reset_index()
    for m in measures:
        eligible, base = measure_trials(f, m)
        outcome = RELIANCE_MEASURES[m][0]
        value = f[eligible].groupby(keys)[outcome].agg(["mean", "size"])
        has_base = f[base].groupby(keys).size().rename(f"{m}_base")
        per = per.merge(value.rename(columns={"mean": m, "size": f"{m}_n"}).reset_index(), on=keys, how="left")
        per = per.merge(has_base.reset_index(), on=keys, how="left")
        per[f"{m}_n"] = per[f"{m}_n"].fillna(0).astype(int)
        if convention == "zero":
            per.loc[per[m].isna() & (per[f"{m}_base"] > 0), m] = 0.0
        per = per.drop(columns=f"{m}_base")
    per.insert(2, "empty_denominator", convention)
    results.table(f"{task}_by_participant", per)
    rows = []
    for arm, g in per.groupby("arm", sort=True):
        row = {"arm": arm, "participants": len(g), "trials": int(g["trials"].sum())}
        for m in measures:
            row[m] = g[m].mean() if g[m].notna().any() else np.nan
            row[f"{m}_participants"] = int(g[m].notna().sum())
        rows.append(row)
    by_arm = pd.DataFrame(rows)
    by_arm["empty_denominator"] = convention
    results.table(f"{task}_by_arm", by_arm)
    for m in measures:
        print(f"  {m}: share of {RELIANCE_MEASURES[m][1]}")
    print(f"  empty denominators: {convention} ('exclude': no value for that participant; 'zero': counted as 0)")


def _design(f, reference, terms):
    """Fixed-effect matrix with R's treatment-contrast names for ``arm``, ``arm + ai_correct`` or
    ``arm * ai_correct``."""
    arms = [reference] + sorted(set(f["arm"]) - {reference})
    cols = {"(Intercept)": np.ones(len(f))}
    for a in arms[1:]:
        cols[f"arm{a}"] = (f["arm"] == a).to_numpy(float)
    if terms != "arm":
        cols["ai_correct"] = f["ai_correct"].to_numpy(float)
    if terms == "arm * ai_correct":
        for a in arms[1:]:
            cols[f"arm{a}:ai_correct"] = cols[f"arm{a}"] * cols["ai_correct"]
    return pd.DataFrame(cols)


def prepare(f, outcome, reference, terms, minimum):
    """The rules a model needs, the same in analysis.R: arms with fewer than ``minimum`` participants with
    eligible trials are left out; the reference arm and one more must remain; every arm needs both outcomes
    (else the odds ratio is infinite); ``arm * ai_correct`` needs both outcomes in every arm x AI-correct
    cell (else ``arm + ai_correct``), and ai_correct must vary (else ``arm``). Returns (frame, terms,
    notes, reason), ``reason`` set when the model cannot be fitted."""
    notes = []
    f = f[f[outcome].notna()]
    counts = f.groupby("arm")["participant"].nunique()
    small = counts[counts < minimum]
    if len(small):
        notes.append("left out (fewer than {} participants): {}".format(
            minimum, ", ".join(f"{a} ({n})" for a, n in small.items())))
    f = f[f["arm"].isin(counts[counts >= minimum].index)]
    if reference not in set(f["arm"]) or f["arm"].nunique() < 2:
        return f, terms, notes, (
            f"needs the reference arm '{reference}' and one more arm, each with at least {minimum} participants "
            f"with eligible trials; participants per arm: {', '.join(f'{a} {n}' for a, n in counts.items()) or 'none'}")
    flat = [a for a, g in f.groupby("arm") if g[outcome].nunique() < 2]
    if flat:
        return f, terms, notes, (f"every eligible trial in arm(s) {', '.join(flat)} had the same outcome: "
                                       "the odds ratio would be infinite (complete separation)")
    if terms != "arm" and (f["ai_correct"].isna().any() or f["ai_correct"].nunique() < 2):
        notes.append("ai_correct left out: the AI's correctness does not vary (or is unknown)")
        terms = "arm"
    if terms == "arm * ai_correct":
        cells = f.groupby(["arm", "ai_correct"])[outcome].nunique()
        if (cells < 2).any() or len(cells) < 2 * f["arm"].nunique():
            notes.append("arm x ai_correct left out: in some arm the AI-right or AI-wrong trials all had the same "
                         "outcome (or there were none)")
            terms = "arm + ai_correct"
    return f, terms, notes, None


def fit_logistic(results, task, model, f, outcome, reference, terms, minimum):
    """Fit ``outcome ~ terms + (1 | participant) + (1 | image)`` and report it in plain words."""
    answered = f[f[outcome].notna()]
    f, terms, notes, reason = prepare(f, outcome, reference, terms, minimum)
    n_p, n_t = f["participant"].nunique(), len(f)
    if reason:
        results.status(task, model, "skipped", answered["participant"].nunique(), len(answered), reason)
        return None
    X = _design(f, reference, terms)
    groups = [(name, f[col]) for name, col in (("participant", "participant"), ("image", "image"))
              if f[col].nunique() >= 2]
    formula = f"{outcome} ~ {terms}" + "".join(
        f" + (1 | {g})" for g, _ in groups)
    try:
        fit = LaplaceGLMM(f[outcome].to_numpy(float), X.to_numpy(), [pd.factorize(c)[0] for _, c in groups]).fit()
    except (np.linalg.LinAlgError, ValueError, FloatingPointError) as exc:
        results.status(task, model, "failed", n_p, n_t, f"{formula}: the fit failed ({exc}); no estimates")
        return None
    beta, se = fit["beta"], fit["se"]
    problems = []
    if not fit["converged"]:
        problems.append("did not converge (largest scaled gradient {:.2g}, limit 0.002{}): do not report these "
                        "estimates".format(fit["max_grad"], "" if fit["hessian_ok"] else
                                           "; the curvature is not positive definite, some term is not identified"))
    for (g, _), sd in zip(groups, fit["theta"]):
        if sd < 1e-4:
            problems.append(f"singular fit: the {g} standard deviation is estimated as 0, the data cannot tell "
                            f"{g}s apart beyond chance; the fixed effects stand, the model is at the edge of "
                            "what the data support")
    shaky = [n for n, b, s in zip(X.columns, beta, se) if abs(b) > LARGE_LOG_ODDS or s > LARGE_SE]
    if shaky:
        problems.append(f"{', '.join(shaky)}: |log odds| > {LARGE_LOG_ODDS:g} or SE > {LARGE_SE:g}, (almost) "
                        "all one outcome in some arm; the odds ratio is not estimable from these data")
    if not np.all(np.isfinite(beta)) or not np.all(np.isfinite(se)):
        results.status(task, model, "failed", n_p, n_t, f"{formula}: estimates or standard errors are not finite; "
                       "no table written. " + " ".join(problems + notes))
        return None
    state = "ok" if not problems else ("not converged" if not fit["converged"] else
                                       "singular" if any("singular" in p for p in problems) else "unstable")
    z = beta / se
    table = pd.DataFrame({"term": X.columns, "estimate": beta, "se": se, "z": z, "p": 2 * stats.norm.sf(np.abs(z)),
                          "odds_ratio": np.exp(beta), "or_ci_low": np.exp(beta - 1.959964 * se),
                          "or_ci_high": np.exp(beta + 1.959964 * se), "status": state})
    results.table(f"{task}_{model}_glmm", table)
    results.table(f"{task}_{model}_glmm_random_effects",
                  pd.DataFrame({"group": [g for g, _ in groups], "sd": fit["theta"]}))
    message = f"{formula}; {n_p} participants, {n_t} trials, Laplace ML (as lme4::glmer)"
    results.status(task, model, state, n_p, n_t, "; ".join([message] + problems + notes))
    return table


def fit_ordinal(results, task, model, frame, column, reference, levels, minimum):
    """Proportional-odds model ``column ~ arm`` with participant-clustered standard errors, checked."""
    frame = frame[frame[column].notna() & (frame[column] != "")]
    counts = frame.groupby("arm")["participant"].nunique()
    n_p, n_t = frame["participant"].nunique(), len(frame)
    frame = frame[frame["arm"].isin(counts[counts >= minimum].index)]
    if reference not in set(frame["arm"]) or frame["arm"].nunique() < 2:
        results.status(task, model, "skipped", n_p, n_t, f"needs the reference arm '{reference}' and one more arm, "
                       f"each with at least {minimum} participants; per arm: "
                       f"{', '.join(f'{a} {n}' for a, n in counts.items()) or 'none'}")
        return
    n_p, n_t = frame["participant"].nunique(), len(frame)
    observed = [v for v in levels if v in set(frame[column])]
    if len(observed) < 2:
        results.status(task, model, "skipped", n_p, n_t, "every answer was the same; nothing to model")
        return
    arms = [reference] + sorted(set(frame["arm"]) - {reference})
    exog = pd.DataFrame({f"arm{a}": (frame["arm"] == a).astype(float) for a in arms[1:]}, index=frame.index)
    y = pd.Series(pd.Categorical(frame[column], categories=observed, ordered=True), index=frame.index)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit = OrderedModel(y, exog, distr="logit").fit(
            method="bfgs", disp=False, maxiter=1000, cov_type="cluster",
            cov_kwds={"groups": frame["participant"].astype("category").cat.codes})
    converged = bool(fit.mle_retvals.get("converged", False))
    table = pd.DataFrame({"term": fit.params.index, "estimate": fit.params.to_numpy(), "se": fit.bse.to_numpy(),
                          "p": fit.pvalues.to_numpy()})
    notes = [str(w.message).splitlines()[0] for w in caught][:3]
    if table[["estimate", "se"]].isna().any().any():
        results.status(task, model, "failed", n_p, n_t, "estimates or standard errors are not finite (an answer "
                       "level or arm too sparse); no table written. " + " ".join(notes))
        return
    state = "ok" if converged else "not converged"
    table["status"] = state
    results.table(f"{task}_{model}", table)
    results.status(task, model, state, n_p, n_t, "; ".join(
        [f"{column} ~ arm, proportional odds, participant-clustered SEs (no random effects; R's clmm has them)"]
        + ([] if converged else ["the optimiser did not converge: do not report these estimates"]) + notes))


def run_task(results, d, spec, minimum, convention):
    t = d[d["task"] == spec["name"]]
    name, reference = spec["name"], spec["reference"]
    print(f"\n######## task {name} ({spec['protocol']}): {len(t)} trials, {t['participant'].nunique()} "
          f"participants, {t['image_id'].nunique()} images, arms {', '.join(sorted(set(t['arm'])))}")
    if t.empty:
        results.status(name, "all", "skipped", 0, 0, "no answered trials in the export")
        return
    if spec["reliance"] or spec["outcome"]:
        frame = trial_frame(t, spec["reliance"])
        measures = ["accuracy_final"] + (["agreement_ai_wrong", "agreement_ai_right"] if spec["reliance"] else [])
        if spec["reliance"] == "answer_with_advice" and frame["initial_differs"].notna().any():
            measures.append("switch_fraction")
        descriptives(results, name, frame, measures, convention)
        fit_logistic(results, name, "accuracy", frame, "correct", reference, "arm * ai_correct", minimum)
        shown_arms = sorted(set(frame.loc[frame["advice_shown"] == 1.0, "arm"]))
        ref = "ai" if "ai" in shown_arms else (reference if reference in shown_arms else (shown_arms or [""])[0])
        for m in measures[1:]:
            eligible, _ = measure_trials(frame, m)
            fit_logistic(results, name, m, frame[eligible], "agree", ref, "arm", minimum)
    for item in spec["likert"]:
        if item in t:
            levels = [str(v) for v in range(spec["scale"][0], spec["scale"][1] + 1)]
            fit_ordinal(results, name, f"{item}_ordinal", t, item, reference, levels, minimum)
    if spec["effect_keys"]:
        long = pd.concat([t.assign(arm=k, effect=t[f"answer_effect_{k}"]) for k in spec["effect_keys"]
                          if f"answer_effect_{k}" in t], ignore_index=True)
        if not long.empty:
            fit_ordinal(results, name, "effect_ordinal", long, "effect", spec["effect_keys"][0],
                        ["hurt", "no_effect", "helped"], minimum)


def main(tasks, empty_denominator, min_participants_per_arm, argv):
    if empty_denominator not in ("exclude", "zero"):
        sys.exit(f"analysis.py: EMPTY_DENOMINATOR must be 'exclude' or 'zero', not {empty_denominator!r}")
    responses = argv[1] if len(argv) > 1 else "responses.csv"
    try:
        d = load_export(responses)
    except (OSError, KeyError, pd.errors.ParserError) as exc:
        sys.exit(f"analysis.py: cannot read the export {responses}: {exc}")
    results = Results(argv[2] if len(argv) > 2 else "analysis_results")
    results.table("settings", pd.DataFrame({
        "setting": ["EMPTY_DENOMINATOR", "MIN_PARTICIPANTS_PER_ARM", "responses"],
        "value": [empty_denominator, str(min_participants_per_arm), responses]}))
    for spec in tasks:
        run_task(results, d, spec, min_participants_per_arm, empty_denominator)
    results.finish()
