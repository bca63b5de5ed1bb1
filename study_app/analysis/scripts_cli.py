"""``xai-study analysis-script``: write analysis.R and analysis.py for a study's design.

    xai-study analysis-script --study examples/studies/verification.toml --out analysis/
    xai-study export ... && Rscript analysis/analysis.R responses.csv
    python analysis/analysis.py responses.csv results/
"""

from __future__ import annotations

import argparse
import sys
import tomllib

from study_app.analysis.scripts import plan_from_study, write_scripts


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, help="study file (TOML)")
    parser.add_argument("--out", default=".", help="folder for analysis.R and analysis.py (default: here)")


def run(args: argparse.Namespace) -> int:
    try:
        plan = plan_from_study(args.study)
        r_path, py_path = write_scripts(args.study, args.out)
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        print(f"xai-study analysis-script: {exc}", file=sys.stderr)
        return 2
    for task in plan.tasks:
        models = ([f"{task.outcome} ~ arm * ai_correct + (1 | participant) + (1 | image)"] if task.outcome else [])
        models += [f"{item} ~ arm (cumulative link)" for item in task.likert]
        models += ["effect ~ method (cumulative link)"] if task.effect_keys else []
        print(f"task {task.name} ({task.protocol}, reference arm {task.reference}): {'; '.join(models) or 'no model'}")
    print(f"wrote {r_path} (lme4/ordinal) and {py_path} (statsmodels); both read responses.csv from xai-study export")
    return 0
