"""``xai-study export``: write responses.csv, participants.csv and the researcher audit log for a study, then,
for studies with decision or verification tasks, ``reliance.csv`` beside them: the reliance measures per
participant and arm (:mod:`study_app.export.reliance_report`), read from the responses.csv just written, under
the empty-denominator convention of ``--reliance-empty`` (named in its ``empty_denominator`` column).

    xai-study export --study examples/studies/verification.toml --out results/responses.csv

The database is ``--db``, else env ``XAI_STUDY_DB_URL``, else ``db_url`` in ``.streamlit/secrets.toml``,
else ``responses.sqlite`` next to the study file. Only the exact study version (file hash) is exported
unless ``--all-versions`` is given, so edited studies are never silently mixed.

Synthetic participants (``xai-study simulate``) are never in a plain export. ``--include-synthetic`` exports them
with the real ones and a ``synthetic`` column, into files whose names say so (``responses_synthetic.csv``,
``participants_synthetic.csv``, ``reliance_synthetic.csv``: :func:`synthetic_name`), so no file named as a real
export can hold a synthetic row.

What each participant was shown (cache keys, map and PNG hashes, faithfulness scores) comes from the records
written when each trial was shown; the attribution cache is not read.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

from study_app.analysis.instrument_scores import InstrumentUse, uses_in_study_file
from study_app.analysis.prereg_lock import deviation
from study_app.analysis.reliance import EMPTY_CONVENTIONS, EXCLUDE
from study_app.export.reliance_report import write_reliance_csv
from study_app.export.study_export import export_study
from study_app.settings import resolve
from study_app.store.database import DatabaseConfigError, make_engine
from study_app.store.logs import cli_actor
from study_app.store.migrate import SchemaMismatch
from study_app.store.repository import Repository
from study_app.study.errors import StudyFileError
from study_app.study.quality import QualityRules
from study_app.study.study_file import parse_study_file, read_study_file


class ExportError(RuntimeError):
    """Nothing to export, or nowhere to export from; the message says what was looked for."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, type=Path, help="the study's .toml file")
    parser.add_argument("--out", type=Path, default=Path("responses.csv"), help="responses CSV (default: %(default)s)")
    parser.add_argument("--participants", type=Path, default=None,
                        help="participants CSV (default: participants.csv beside --out)")
    parser.add_argument("--audit", type=Path, default=None,
                        help="researcher audit log CSV (default: audit_log.csv beside --out)")
    parser.add_argument("--db", default=None, help="SQLAlchemy database URL (overrides env and secrets)")
    parser.add_argument("--all-versions", action="store_true",
                        help="export every stored version of this study id, not only this file's hash")
    parser.add_argument("--include-pilot", action="store_true",
                        help="also export the researcher's pilot runs (with a pilot column); left out by default")
    parser.add_argument("--include-synthetic", action="store_true",
                        help="also export xai-study simulate's synthetic participants (with a synthetic column), "
                             "into files named *_synthetic.csv; left out by default")
    parser.add_argument("--reliance-empty", choices=EMPTY_CONVENTIONS, default=EXCLUDE,
                        help="reliance.csv: a participant with no eligible trial for a measure (e.g. RAIR without "
                             "a wrong first answer and a right AI) has no value (exclude, default) or counts 0 "
                             "(zero, as Schemmer et al. 2023 and He et al. 2023 do)")


def _quality_rules(path: Path) -> QualityRules:
    """The study file's data-quality rules, read by the study parser (no images or models are loaded)."""
    try:
        return QualityRules.of(parse_study_file(path))
    except StudyFileError as exc:
        raise ExportError(str(exc)) from exc


def _study_identity(path: Path) -> tuple[str, str, list[InstrumentUse]]:
    """The study file's id, its SHA-256 (the version whose data is exported) and the instruments it names."""
    try:
        text = read_study_file(path)
    except StudyFileError as exc:
        raise ExportError(str(exc)) from exc
    slug = text.study_table.get("id")
    if not isinstance(slug, str) or not slug:
        raise ExportError(f"{path}: study.id is missing")
    return slug, text.sha256, uses_in_study_file(text.data)


SYNTHETIC_SUFFIX = "_synthetic"


def synthetic_name(path: Path) -> Path:
    """``path`` with ``_synthetic`` before its extension (unchanged when its name says so already): where an
    export holding synthetic participants goes."""
    return path if SYNTHETIC_SUFFIX in path.stem else path.with_name(f"{path.stem}{SYNTHETIC_SUFFIX}{path.suffix}")


def export_from_file(study_path: Path, out: Path, participants_out: Path | None = None, *, db_url: str | None = None,
                     all_versions: bool = False,
                     audit_out: Path | None = None, include_pilot: bool = False, include_synthetic: bool = False):
    """Export the study at ``study_path`` from its database; returns :class:`ExportResult`. With
    ``include_synthetic`` the CSV files are named by :func:`synthetic_name`."""
    slug, sha, instruments = _study_identity(study_path)
    url = resolve(study=study_path, db=db_url).db_url  # the one settings rule, as the app decides it
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise ExportError(f"no database at {url.removeprefix('sqlite:///')} (set --db or XAI_STUDY_DB_URL)")
    try:
        repo = Repository(make_engine(url), create_tables=True)
    except SchemaMismatch as exc:  # an older database: the message names the upgrade command
        raise ExportError(str(exc)) from exc
    try:
        versions = repo.studies(slug)
        records = versions if all_versions else [v for v in versions if v.file_sha256 == sha]
        if not records:
            stored = ", ".join(f"{v.file_sha256[:12]} ({v.created_at:%Y-%m-%d})" for v in versions) or "none"
            raise ExportError(f"study {slug!r} version {sha[:12]} has no data in this database "
                              f"(stored versions: {stored}); use --all-versions to export them")
        participants_out = participants_out or out.with_name("participants.csv")
        if include_synthetic:
            out, participants_out = synthetic_name(out), synthetic_name(participants_out)
        return export_study(repo, records, out, participants_out,
                            audit_path=audit_out or out.with_name("audit_log.csv"), actor=cli_actor(),
                            include_pilot=include_pilot, rules=_quality_rules(study_path),
                            study_dir=study_path.resolve().parent, instruments=instruments,
                            include_synthetic=include_synthetic)
    finally:
        repo.dispose()


def run(args: argparse.Namespace) -> int:
    try:
        result = export_from_file(args.study, args.out, args.participants, db_url=args.db,
                                  all_versions=args.all_versions,
                                  audit_out=args.audit, include_pilot=args.include_pilot,
                                  include_synthetic=getattr(args, "include_synthetic", False))
    except (ExportError, DatabaseConfigError) as exc:
        print(f"export: {exc}", file=sys.stderr)
        return 1
    print(f"wrote {result.responses} trial rows to {result.responses_path} and "
          f"{result.participants} participants to {result.participants_path}; "
          f"researcher audit log ({result.audit_entries} entries) to {result.audit_path}")
    if result.synthetic_left_out:
        print(f"left out {result.synthetic_left_out} synthetic participants (xai-study simulate); "
              "--include-synthetic exports them into *_synthetic.csv")
    if (found := deviation(args.study)).registered and not (found.matches and not found.scripts_changed):
        print(f"export: warning: {found.describe()}", file=sys.stderr)  # the pre-registration's lock (prereg.json)
    path = result.responses_path.with_name("reliance.csv")
    if getattr(args, "include_synthetic", False):
        path = synthetic_name(path)
    empty = getattr(args, "reliance_empty", EXCLUDE)
    written = write_reliance_csv(pd.read_csv(result.responses_path, dtype=str), path, empty=empty)
    if written is not None:
        print(f"wrote reliance measures for {written} participant x arm rows to {path} "
              f"(empty denominators: {empty})")
    return 0
