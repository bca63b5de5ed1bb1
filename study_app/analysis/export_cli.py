"""``xai-study export``: responses.csv, participants.csv and the audit log (:mod:`study_app.store.export_cli`),
then, for studies with decision or verification tasks, ``reliance.csv`` beside them: the reliance measures
per participant and arm (:mod:`study_app.analysis.reliance_report`), read from the responses.csv just written.

    xai-study export --study examples/studies/offline/decision.toml --out results/responses.csv
"""

from __future__ import annotations

import argparse

import pandas as pd

from study_app.analysis.reliance_report import write_reliance_csv
from study_app.store import export_cli as store_export

add_arguments = store_export.add_arguments


def run(args: argparse.Namespace) -> int:
    code = store_export.run(args)
    if code != 0:
        return code
    path = args.out.with_name("reliance.csv")
    written = write_reliance_csv(pd.read_csv(args.out, dtype=str), path)
    if written is not None:
        print(f"wrote reliance measures for {written} participant x arm rows to {path}")
    return 0
