"""Analysis scripts a researcher can publish: R (lme4, ordinal) and Python (statsmodels) for a study's design.

The scripts read the long export (``responses.csv`` as ``xai-study export`` writes it) as it is: cells
``true``/``false``, attention checks marked in ``is_attention_check`` (left out), the arm a trial showed
in ``methods`` (``none`` for the no-explanation control), the model's correctness in ``model_correct``,
the stimulus in ``image_id``. Per task they fit:

* accuracy (protocols with a right answer): the logistic mixed model
  ``correct ~ arm * ai_correct + (1 | participant) + (1 | image)`` — R: ``lme4::glmer``; Python:
  ``BinomialBayesMixedGLM`` (crossed random intercepts; ``fit_map``, the posterior mode with a Laplace
  approximation, because the variational ``fit_vb`` gave posterior SDs about half the GEE's standard errors
  on simulated data) and, as a frequentist check, a
  GEE logistic model with participant clusters (exchangeable), which ignores the image clustering;
* Likert items (the task's confidence rating; for ``rate`` the helped/no effect/hurt judgement of each
  method, hurt < no effect < helped): the cumulative-link mixed model ``item ~ arm + (1 | participant) +
  (1 | image)`` — R: ``ordinal::clmm``; Python: ``OrderedModel`` (proportional-odds logit, no random
  effects in statsmodels) with participant-clustered standard errors.

``ai_correct`` is dropped from a formula when it does not vary within the task. :data:`PROTOCOL_MODELS`
says which models each protocol gets; a new protocol (``decision``) adds a line there.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from pathlib import Path

# protocol -> (outcome column with a right answer or None, Likert columns)
PROTOCOL_MODELS: dict[str, tuple[str | None, tuple[str, ...]]] = {
    "verification": ("correct", ("answer_confidence",)),
    "forward_simulation": ("correct", ("answer_confidence",)),
    "distinction": ("correct", ("answer_confidence",)),
    "decision": ("correct", ("answer_confidence_final",)),  # correct: the final answer; arm from ``arm``
    "rate": (None, ()),  # effect judgements per method, see TaskModels.effect_keys
}
REFERENCE_ARMS = ("none", "human", "ai")
EFFECT_LEVELS = ("hurt", "no_effect", "helped")


@dataclass(frozen=True)
class TaskModels:
    """What to fit for one task."""

    name: str
    protocol: str
    outcome: str | None
    likert: tuple[str, ...]
    scale: tuple[int, int]
    reference: str
    arms: tuple[str, ...]
    effect_keys: tuple[str, ...] = ()  # rate: answer_effect_<key> columns, one per method


@dataclass(frozen=True)
class ScriptPlan:
    study_id: str
    design: str  # within | between
    tasks: tuple[TaskModels, ...]


def plan_from_study(path: str | Path) -> ScriptPlan:
    """Read the study file as TOML (so a protocol this version does not parse yet still gets scripts)."""
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    design = data.get("design", {})
    methods = [m.get("key") or m["name"] for m in data.get("methods", [])]
    if design.get("negative_control"):
        methods.append(f"{design['negative_control']}@random")
    tasks = []
    for t in data.get("tasks", []):
        arms = list(t.get("arms") or design.get("arms") or methods + (["none"] if design.get("control") else []))
        arms = [a if isinstance(a, str) else a.get("key") or a.get("name") for a in arms]
        reference = next((a for a in REFERENCE_ARMS if a in arms), arms[0] if arms else "none")
        outcome, likert = PROTOCOL_MODELS.get(t.get("protocol"), ("correct", ()))
        scale = tuple(t.get("scale", [1, 7]))
        effect_keys = tuple(methods) if t.get("protocol") == "rate" else ()
        tasks.append(TaskModels(t["name"], t.get("protocol", "?"), outcome, likert, (scale[0], scale[1]),
                                reference, tuple(arms), effect_keys))
    return ScriptPlan(data.get("study", {}).get("id", "study"), design.get("type", "within"), tuple(tasks))


def _r(text: str) -> str:
    """An R string literal (JSON escaping is valid R for these characters)."""
    return json.dumps(text)


R_HEADER = """\
# Analysis of study @STUDY@ (@DESIGN@-subjects design), written by `xai-study analysis-script`.
# Reads the long export as `xai-study export` writes it:  Rscript analysis.R responses.csv
# Needs: install.packages(c("lme4", "ordinal"))
suppressPackageStartupMessages({ library(lme4); library(ordinal) })
args <- commandArgs(trailingOnly = TRUE)
responses <- if (length(args) >= 1) args[1] else "responses.csv"
d <- read.csv(responses, colClasses = "character", na.strings = "", check.names = FALSE)
as_flag <- function(x) ifelse(tolower(x) == "true", 1L, ifelse(tolower(x) == "false", 0L, NA_integer_))
d <- d[is.na(as_flag(d$is_attention_check)) | as_flag(d$is_attention_check) == 0L, ]
if ("arm" %in% names(d)) d$methods <- ifelse(is.na(d$arm), d$methods, d$arm)  # decision: human, ai, ..., placebo
d$participant <- factor(d$participant)
d$image <- factor(d$image_id)
"""

R_ACCURACY = """
# ---- task @TASK@ (@PROTOCOL@): accuracy, logistic mixed model ----
t <- d[d$task == @TASK_R@ & !is.na(as_flag(d$@OUTCOME@)), ]
t$correct <- as_flag(t$@OUTCOME@)
t$ai_correct <- as_flag(t$model_correct)
t$arm <- relevel(factor(t$methods), ref = @REF_R@)
f <- if (length(unique(t$ai_correct)) > 1) correct ~ arm * ai_correct + (1 | participant) + (1 | image) else
  correct ~ arm + (1 | participant) + (1 | image)
m <- glmer(f, data = t, family = binomial, control = glmerControl(optimizer = "bobyqa"))
print(summary(m))
print(exp(cbind(odds_ratio = fixef(m), confint(m, parm = "beta_", method = "Wald"))))
"""

R_LIKERT = """
# ---- task @TASK@: Likert item @ITEM@ (@LOW@..@HIGH@), cumulative-link mixed model ----
t <- d[d$task == @TASK_R@ & !is.na(d$@ITEM@), ]
if (nrow(t) > 0) {
  t$arm <- relevel(factor(t$methods), ref = @REF_R@)
  t$item <- factor(as.integer(t$@ITEM@), levels = @LOW@:@HIGH@, ordered = TRUE)
  print(summary(clmm(item ~ arm + (1 | participant) + (1 | image), data = droplevels(t))))
}
"""

R_EFFECT = """
# ---- task @TASK@ (rate): helped / no effect / hurt per method, cumulative-link mixed model ----
t <- d[d$task == @TASK_R@, ]
cols <- intersect(paste0("answer_effect_", c(@KEYS_R@)), names(t))
long <- do.call(rbind, lapply(cols, function(col) data.frame(
  participant = t$participant, image = t$image, method = sub("^answer_effect_", "", col), effect = t[[col]])))
long <- long[!is.na(long$effect), ]
if (nrow(long) > 0) {
  long$effect <- factor(long$effect, levels = c("hurt", "no_effect", "helped"), ordered = TRUE)
  long$method <- factor(long$method)
  print(summary(clmm(effect ~ method + (1 | participant) + (1 | image), data = long)))
}
"""


def _fill(template: str, **values) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", str(value))
    return template


def render_r(plan: ScriptPlan) -> str:
    """The R script for ``plan``."""
    parts = [_fill(R_HEADER, STUDY=plan.study_id, DESIGN=plan.design)]
    for task in plan.tasks:
        common = {"TASK": task.name, "TASK_R": _r(task.name), "PROTOCOL": task.protocol, "REF_R": _r(task.reference)}
        if task.outcome:
            parts.append(_fill(R_ACCURACY, OUTCOME=task.outcome, **common))
        for item in task.likert:
            parts.append(_fill(R_LIKERT, ITEM=item, LOW=task.scale[0], HIGH=task.scale[1], **common))
        if task.effect_keys:
            parts.append(_fill(R_EFFECT, KEYS_R=", ".join(_r(k) for k in task.effect_keys), **common))
    return "".join(parts)


PY_HEADER = '''\
"""Analysis of study @STUDY@ (@DESIGN@-subjects design), written by `xai-study analysis-script`.

Reads the long export as `xai-study export` writes it and writes one CSV of estimates per model:

    python analysis.py responses.csv [results_dir]

Needs pandas and statsmodels. Accuracy: BinomialBayesMixedGLM (crossed participant and image intercepts,
posterior mode with a Laplace approximation, weak default priors; z and p are normal approximations), and a
GEE logistic model clustered by participant as a frequentist check. statsmodels has no cumulative-link
*mixed* model: the Likert models are proportional-odds models with participant-clustered standard errors
(thresholds after the first are log-increments); the R script fits the mixed versions.
"""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import statsmodels.api as sm
import statsmodels.formula.api as smf
from scipy import stats
from statsmodels.genmod.bayes_mixed_glm import BinomialBayesMixedGLM
from statsmodels.miscmodels.ordinal_model import OrderedModel

RESPONSES = sys.argv[1] if len(sys.argv) > 1 else "responses.csv"
OUT = Path(sys.argv[2] if len(sys.argv) > 2 else "analysis_results")
OUT.mkdir(parents=True, exist_ok=True)


def flag(column):
    return column.str.strip().str.lower().map({"true": 1.0, "false": 0.0})


def with_arm(frame, reference):
    levels = [reference] + sorted(set(frame["methods"]) - {reference})
    return frame.assign(arm=pd.Categorical(frame["methods"], categories=levels))


def save(name, table):
    path = OUT / f"{name}.csv"
    table.to_csv(path, index_label="term")
    print(f"\\n== {name} ==")
    print(table.round(4).to_string())
    print(f"(written to {path})")


def fit_accuracy(task, outcome, reference):
    t = D[(D["task"] == task)].copy()
    t["correct"] = flag(t[outcome])
    t = with_arm(t.dropna(subset=["correct"]), reference)
    t["ai_correct"] = flag(t["model_correct"])
    print(f"task {task}: {len(t)} trials, {t['participant'].nunique()} participants, "
          f"{t['image_id'].nunique()} images, arms {', '.join(t['arm'].cat.categories)} (first: reference)")
    if t["arm"].nunique() < 2:
        print(f"task {task}: fewer than two arms answered; no accuracy model")
        return
    rhs = "arm * ai_correct" if t["ai_correct"].nunique() > 1 else "arm"
    model = BinomialBayesMixedGLM.from_formula(
        f"correct ~ {rhs}", {"participant": "0 + C(participant)", "image": "0 + C(image_id)"}, t)
    fit = model.fit_map()  # posterior mode + Laplace; fit_vb's mean-field intervals come out too narrow
    names = model.exog_names
    z = fit.fe_mean / fit.fe_sd
    save(f"{task}_accuracy_glmm", pd.DataFrame({
        "estimate": fit.fe_mean, "sd": fit.fe_sd, "odds_ratio": np.exp(fit.fe_mean), "z": z,
        "p_approx": 2 * stats.norm.sf(np.abs(z))}, index=names))
    vc = pd.DataFrame({"log_sd_mean": fit.vcp_mean, "log_sd_sd": fit.vcp_sd}, index=model.vcp_names)
    save(f"{task}_accuracy_glmm_random_effects", vc)
    gee = smf.gee(f"correct ~ {rhs}", groups="participant", data=t, family=sm.families.Binomial(),
                  cov_struct=sm.cov_struct.Exchangeable()).fit()
    save(f"{task}_accuracy_gee", pd.DataFrame({"estimate": gee.params, "se": gee.bse,
                                               "odds_ratio": np.exp(gee.params), "p": gee.pvalues}))


def fit_ordinal(name, frame, column, reference, levels):
    frame = frame[frame[column].notna() & (frame[column] != "")]
    if frame.empty or frame["methods"].nunique() < 2:
        print(f"{name}: no answers in two arms; no model")
        return
    frame = with_arm(frame, reference)
    observed = [v for v in levels if v in set(frame[column])]
    y = pd.Series(pd.Categorical(frame[column], categories=observed, ordered=True), index=frame.index)
    exog = pd.get_dummies(frame["arm"], prefix="arm", drop_first=True, dtype=float)
    fit = OrderedModel(y, exog, distr="logit").fit(
        method="bfgs", disp=False, cov_type="cluster", cov_kwds={"groups": frame["participant"].astype("category").cat.codes})
    save(name, pd.DataFrame({"estimate": fit.params, "se": fit.bse, "p": fit.pvalues}))


D = pd.read_csv(RESPONSES, dtype=str, keep_default_na=False)
D = D[flag(D["is_attention_check"]).fillna(0.0) == 0.0]
if "arm" in D:  # decision trials: the arm (human, ai, a method, placebo) is the condition, not the maps
    D["methods"] = D["arm"].where(D["arm"] != "", D["methods"])
'''

PY_ACCURACY = "fit_accuracy(@TASK@, @OUTCOME@, @REF@)\n"
PY_LIKERT = ("fit_ordinal(@NAME@, D[D['task'] == @TASK@], @ITEM@, @REF@, "
             "[str(v) for v in range(@LOW@, @HIGH@ + 1)])\n")
PY_EFFECT = """
_rate = D[D["task"] == @TASK@]
_long = pd.concat([_rate.assign(methods=key, effect=_rate[f"answer_effect_{key}"])
                   for key in @KEYS@ if f"answer_effect_{key}" in _rate], ignore_index=True)
if not _long.empty:
    fit_ordinal(@NAME@, _long, "effect", @REF@, ["hurt", "no_effect", "helped"])
"""


def render_python(plan: ScriptPlan) -> str:
    """The Python script for ``plan``."""
    parts = [_fill(PY_HEADER, STUDY=plan.study_id, DESIGN=plan.design), "\n"]
    for task in plan.tasks:
        common = {"TASK": repr(task.name), "REF": repr(task.reference)}
        if task.outcome:
            parts.append(_fill(PY_ACCURACY, OUTCOME=repr(task.outcome), **common))
        for item in task.likert:
            parts.append(_fill(PY_LIKERT, NAME=repr(f"{task.name}_{item}_ordinal"), ITEM=repr(item),
                               LOW=task.scale[0], HIGH=task.scale[1], **common))
        if task.effect_keys:
            parts.append(_fill(PY_EFFECT, NAME=repr(f"{task.name}_effect_ordinal"), KEYS=repr(list(task.effect_keys)),
                               TASK=repr(task.name), REF=repr(task.effect_keys[0])))
    return "".join(parts)


def write_scripts(study: str | Path, out_dir: str | Path) -> tuple[Path, Path]:
    """Write ``analysis.R`` and ``analysis.py`` for the study file into ``out_dir``."""
    plan = plan_from_study(study)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r_path, py_path = out / "analysis.R", out / "analysis.py"
    r_path.write_text(render_r(plan), encoding="utf-8")
    py_path.write_text(render_python(plan), encoding="utf-8")
    return r_path, py_path
