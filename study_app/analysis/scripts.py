"""Analysis scripts a researcher can publish: ``analysis.R`` (lme4, ordinal) and ``analysis.py`` (numpy,
scipy, statsmodels) for a study's design, both reading the long export (``responses.csv``) as it is.

Both apply the same rules and fit the same models, name terms and files the same way and write
``model_status.csv`` (:mod:`study_app.analysis.generated_analysis` is the Python body, written into the
script verbatim; :mod:`study_app.analysis.scripts_r` the R text). Per task:

* descriptive tables per participant x arm and per arm: final accuracy and, for decision and verification
  tasks, agreement with the AI on AI-wrong trials (over-reliance) and on AI-right trials and (two-step
  decision) the switch fraction, over trials where the advice was shown, under the empty-denominator
  convention (``exclude`` or ``zero``: a setting at the top of each script, written into its output);
* logistic mixed models ``correct ~ arm * ai_correct + (1 | participant) + (1 | image)`` and, for reliance,
  ``agree ~ arm + (1 | participant) + (1 | image)`` on each of those trial sets (reference arm ``ai``):
  R ``lme4::glmer``, Python :mod:`study_app.analysis.laplace_glmm` (the same Laplace likelihood, so the
  same conditional estimand; tests/analysis/test_script_agreement.py holds them together);
* Likert items: ``ordinal::clmm`` in R, a proportional-odds model with participant-clustered standard errors
  in Python (statsmodels has no mixed version).

Each model checks convergence, singularity, separation and non-finite estimates and says so in words; one
with too few participants (``MIN_PARTICIPANTS_PER_ARM``, another setting) is skipped with a message.
Each protocol says which outcome, Likert items and reliance measures it gets (its ``outcome``, ``likert``,
``reliance`` and ``judges_each_method`` in :mod:`study_app.study.protocols`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from study_app.analysis import generated_analysis, laplace_glmm
from study_app.analysis.scripts_r import R_BODY, R_HEAD, R_TAIL, r_task_call
from study_app.study.protocols import PROTOCOLS
from study_app.study.study_file import file_arms, read_study_file

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
    reliance: str = ""  # which reliance measures apply: "answer_with_advice", "accept_reject" or none ("")


@dataclass(frozen=True)
class ScriptPlan:
    study_id: str
    design: str  # within | between
    tasks: tuple[TaskModels, ...]


def plan_from_study(path: str | Path) -> ScriptPlan:
    """Read the study file as TOML (so a protocol this version does not parse yet still gets scripts)."""
    data = read_study_file(path).data
    design = data.get("design", {})
    tasks = []
    for t in data.get("tasks", []):
        arms = file_arms(data, t)
        reference = next((a for a in REFERENCE_ARMS if a in arms), arms[0] if arms else "none")
        protocol = PROTOCOLS.get(t.get("protocol"))  # one this version does not know: accuracy only
        outcome, likert = (protocol.outcome, protocol.likert) if protocol else ("correct", ())
        scale = tuple(t.get("scale", [1, 7]))
        methods = [a for a in arms if a != "none"]  # the methods the task shows (its own list, else the study's)
        effect_keys = tuple(methods) if protocol and protocol.judges_each_method else ()
        tasks.append(TaskModels(t["name"], t.get("protocol", "?"), outcome, likert, (scale[0], scale[1]),
                                reference, tuple(arms), effect_keys, (protocol and protocol.reliance) or ""))
    return ScriptPlan(data.get("study", {}).get("id", "study"), design.get("type", "within"), tuple(tasks))


DEFAULT_EMPTY_DENOMINATOR = "exclude"
EMPTY_DENOMINATORS = ("exclude", "zero")
DEFAULT_MIN_PARTICIPANTS = 5
EMBEDDED = "  # embedded: analysis.py defines it above"  # lines of the body that only the package needs

PY_HEAD = '''\
"""Analysis of study @STUDY@ (@DESIGN@-subjects design), written by `xai-study analysis-script`.

Reads the long export as `xai-study export` writes it and writes CSV tables into results_dir:

    python analysis.py responses.csv [results_dir]        (default results_dir: analysis_results)

Needs numpy, pandas, scipy and statsmodels. The logistic mixed models (accuracy, agreement with the AI on
AI-wrong and AI-right trials, switching) are fitted by maximum likelihood with the Laplace approximation,
as R's lme4::glmer fits them (the code is below, from xai-study's laplace_glmm.py), so both scripts report
the same conditional odds ratios. Every model's status (ok, singular, not converged, unstable, skipped,
failed) is printed in words and written to model_status.csv; a table is never written with estimates
that are not numbers.
"""

# ---- settings: change here; both are written into settings.csv and the tables ----
# A per-participant measure whose denominator is empty (e.g. no AI-wrong trial with advice shown in an arm):
#   "exclude" = the participant has no value for it and is left out of the arm's mean (default);
#   "zero"    = the participant counts as 0. The trial-level models below are not affected.
EMPTY_DENOMINATOR = "@EMPTY@"
# A model uses only arms with at least this many participants with eligible trials; it needs the reference
# arm and one more such arm, and both outcomes in every arm. Otherwise it is skipped with a message.
MIN_PARTICIPANTS_PER_ARM = @MIN@
'''


def _fill(template: str, **values) -> str:
    for key, value in values.items():
        template = template.replace(f"@{key}@", str(value))
    return template


def _task_spec(task: TaskModels) -> dict:
    return {"name": task.name, "protocol": task.protocol, "outcome": task.outcome, "reference": task.reference,
            "likert": list(task.likert), "scale": list(task.scale), "effect_keys": list(task.effect_keys),
            "reliance": task.reliance}


def _check_settings(empty_denominator: str, min_participants: int) -> None:
    if empty_denominator not in EMPTY_DENOMINATORS:
        raise ValueError(f"empty denominator must be {' or '.join(EMPTY_DENOMINATORS)}, not {empty_denominator!r}")
    if min_participants < 2:
        raise ValueError(f"the minimum participants per arm must be at least 2, not {min_participants}")


def render_r(plan: ScriptPlan, empty_denominator: str = DEFAULT_EMPTY_DENOMINATOR,
             min_participants: int = DEFAULT_MIN_PARTICIPANTS) -> str:
    """The R script for ``plan``."""
    _check_settings(empty_denominator, min_participants)
    parts = [_fill(R_HEAD, STUDY=plan.study_id, DESIGN=plan.design, EMPTY=empty_denominator, MIN=min_participants),
             R_BODY]
    parts += [r_task_call(**_task_spec(t)) for t in plan.tasks]
    return "".join(parts) + R_TAIL


def _embedded(module) -> str:
    lines = Path(module.__file__).read_text(encoding="utf-8").splitlines(keepends=True)
    return "".join(line for line in lines if not line.rstrip().endswith(EMBEDDED.strip()))


def render_python(plan: ScriptPlan, empty_denominator: str = DEFAULT_EMPTY_DENOMINATOR,
                  min_participants: int = DEFAULT_MIN_PARTICIPANTS) -> str:
    """The Python script for ``plan``: settings, the Laplace GLMM, the analysis body, the study's tasks."""
    _check_settings(empty_denominator, min_participants)
    tasks = ",\n    ".join(repr(_task_spec(t)) for t in plan.tasks)
    return "".join([
        _fill(PY_HEAD, STUDY=plan.study_id, DESIGN=plan.design, EMPTY=empty_denominator, MIN=min_participants),
        "\n\n# ==== the logistic mixed model (xai-study: study_app/analysis/laplace_glmm.py) ====\n",
        _embedded(laplace_glmm),
        "\n\n# ==== reading, tables, models and checks (xai-study: study_app/analysis/generated_analysis.py) ====\n",
        _embedded(generated_analysis),
        f"\n\nTASKS = [\n    {tasks},\n]\n\nif __name__ == \"__main__\":\n"
        "    main(TASKS, EMPTY_DENOMINATOR, MIN_PARTICIPANTS_PER_ARM, sys.argv)\n",
    ])


def write_scripts(study: str | Path, out_dir: str | Path, empty_denominator: str = DEFAULT_EMPTY_DENOMINATOR,
                  min_participants: int = DEFAULT_MIN_PARTICIPANTS) -> tuple[Path, Path]:
    """Write ``analysis.R`` and ``analysis.py`` for the study file into ``out_dir``."""
    plan = plan_from_study(study)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r_path, py_path = out / "analysis.R", out / "analysis.py"
    r_path.write_text(render_r(plan, empty_denominator, min_participants), encoding="utf-8")
    py_path.write_text(render_python(plan, empty_denominator, min_participants), encoding="utf-8")
    return r_path, py_path
