"""``xai-study export``: responses.csv, participants.csv and the audit log (:mod:`study_app.store.export_cli`),
then, for studies with decision or verification tasks, ``reliance.csv`` beside them: the reliance measures
per participant and arm (:mod:`study_app.analysis.reliance_report`), read from the responses.csv just written,
under the empty-denominator convention of ``--reliance-empty`` (named in its ``empty_denominator`` column).

    xai-study export --study examples/studies/offline/decision.toml --out results/responses.csv
"""

from __future__ import annotations

import argparse

import pandas as pd

from study_app.analysis.reliance import EMPTY_CONVENTIONS, EXCLUDE
from study_app.analysis.reliance_report import write_reliance_csv
from study_app.store import export_cli as store_export


def add_arguments(parser: argparse.ArgumentParser) -> None:
    store_export.add_arguments(parser)
    parser.add_argument("--reliance-empty", choices=EMPTY_CONVENTIONS, default=EXCLUDE,
                        help="reliance.csv: a participant with no eligible trial for a measure (e.g. RAIR without "
                             "a wrong first answer and a right AI) has no value (exclude, default) or counts 0 "
                             "(zero, as Schemmer et al. 2023 and He et al. 2023 do)")


def run(args: argparse.Namespace) -> int:
    code = store_export.run(args)
    if code != 0:
        return code
    path = args.out.with_name("reliance.csv")
    empty = getattr(args, "reliance_empty", EXCLUDE)
    written = write_reliance_csv(pd.read_csv(args.out, dtype=str), path, empty=empty)
    if written is not None:
        print(f"wrote reliance measures for {written} participant x arm rows to {path} "
              f"(empty denominators: {empty})")
    return 0
