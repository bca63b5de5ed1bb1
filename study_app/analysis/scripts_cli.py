"""``xai-study analysis-script``: write analysis.R and analysis.py for a study's design.

    xai-study analysis-script --study examples/studies/verification.toml --out analysis/
    xai-study export ... && Rscript analysis/analysis.R responses.csv results_r/
    python analysis/analysis.py responses.csv results/
"""

from __future__ import annotations

import argparse
import sys
import tomllib

from study_app.analysis.scripts import (
    DEFAULT_EMPTY_DENOMINATOR,
    DEFAULT_MIN_PARTICIPANTS,
    EMPTY_DENOMINATORS,
    plan_from_study,
    write_scripts,
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, help="study file (TOML)")
    parser.add_argument("--out", default=".", help="folder for analysis.R and analysis.py (default: here)")
    parser.add_argument("--empty-denominator", choices=EMPTY_DENOMINATORS, default=DEFAULT_EMPTY_DENOMINATOR,
                        help="a participant with no eligible trial for a per-participant measure: exclude (no "
                             "value, left out of the arm's mean; default) or zero (counts as 0); a setting at the "
                             "top of both scripts")
    parser.add_argument("--min-participants", type=int, default=DEFAULT_MIN_PARTICIPANTS,
                        help="participants with eligible trials an arm needs to enter a model (default: "
                             f"{DEFAULT_MIN_PARTICIPANTS}); a setting at the top of both scripts")


def run(args: argparse.Namespace) -> int:
    try:
        plan = plan_from_study(args.study)
        r_path, py_path = write_scripts(args.study, args.out, args.empty_denominator, args.min_participants)
    except (OSError, KeyError, ValueError, tomllib.TOMLDecodeError) as exc:
        print(f"xai-study analysis-script: {exc}", file=sys.stderr)
        return 2
    for task in plan.tasks:
        models = ([f"{task.outcome} ~ arm * ai_correct + (1 | participant) + (1 | image)"] if task.outcome else [])
        if task.reliance:
            models.append("agree ~ arm + (1 | participant) + (1 | image) on AI-wrong and on AI-right trials"
                          + (" and switching" if task.reliance == "answer_with_advice" else ""))
        models += [f"{item} ~ arm (cumulative link)" for item in task.likert]
        models += ["effect ~ method (cumulative link)"] if task.effect_keys else []
        print(f"task {task.name} ({task.protocol}, reference arm {task.reference}): {'; '.join(models) or 'no model'}")
    print(f"wrote {r_path} (lme4/ordinal) and {py_path} (numpy/scipy/statsmodels); both read responses.csv from "
          f"xai-study export. Settings: EMPTY_DENOMINATOR = {args.empty_denominator}, "
          f"MIN_PARTICIPANTS_PER_ARM = {args.min_participants}")
    return 0
