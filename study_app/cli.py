"""``xai-study``: one command, one subcommand per capability.

Each subcommand lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``;
only the chosen one is imported, so ``xai-study --help`` stays fast and a broken optional part cannot
stop the others.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# name -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "train": ("trainers.train", "train a ResNet classifier from an image folder"),
    "zeroshot": ("trainers.zeroshot", "fold an ImageNet ResNet into a zero-shot cat/dog checkpoint"),
    "evaluate": ("trainers.evaluate", "accuracy, per-class metrics and plots of a checkpoint on a folder"),
    "ablation": ("trainers.ablation", "CIFAR-10: plain vs residual vs skip blocks, same recipe"),
    "faithfulness": ("study_app.explain.faithfulness_cli", "deletion/insertion AUC, infidelity, sanity per method"),
    "precompute": ("study_app.maps.precompute_cli", "fill the attribution cache for a study or image folder"),
    "export": ("study_app.export.export_cli",
               "write responses.csv and participants.csv with provenance (and reliance.csv)"),
    "db": ("study_app.admin.db_cli", "database schema: status, upgrade after a release adds columns"),
    "backup": ("study_app.admin.backup_cli", "consistent copy of the study database while it runs (+ manifest)"),
    "restore": ("study_app.admin.restore_cli", "restore a backup once a scratch copy matches its manifest"),
    "researcher": ("study_app.admin.researcher_cli", "researcher area: unlock after failed logins (audited)"),
    "check": ("study_app.readiness", "is the study ready to launch? exits non-zero if not"),
    "analysis-script": ("study_app.analysis.scripts_cli", "write R (lme4/ordinal) and Python (statsmodels) analysis scripts"),
    "power": ("study_app.analysis.power_cli", "participants needed for 80 % power, simulating the study's design"),
    "prereg": ("study_app.analysis.prereg_cli", "pre-registration (Markdown, HTML, hash lock) from the study file"),
    "simulate": ("study_app.simulate.simulate_cli", "synthetic participants through the real engine, marked synthetic"),
    "serve": ("study_app.serve.serve_cli", "one study on N processes behind HAProxy (needs PostgreSQL for N > 1)"),
    "prolific": ("study_app.recruit.prolific_cli",
                 "Prolific submissions: status, approve, reject/return, bonus, sync (dry run unless --yes)"),
}


def _top_parser() -> argparse.ArgumentParser:
    lines = "\n".join(f"  {name:<13} {help_}" for name, (_, help_) in SUBCOMMANDS.items())
    return argparse.ArgumentParser(
        prog="xai-study",
        description="Train, explain and run user studies on image classifiers.",
        epilog=f"subcommands:\n{lines}\n\nRun 'xai-study SUBCOMMAND --help' for its options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    top = _top_parser()
    if not argv or argv[0] in ("-h", "--help"):
        top.print_help()
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in SUBCOMMANDS:
        top.error(f"unknown subcommand {name!r}; choose one of {', '.join(SUBCOMMANDS)}")
    module_name, help_ = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"xai-study {name}", description=help_)
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
