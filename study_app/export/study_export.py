"""Writing a study's export: responses.csv and participants.csv for the chosen study versions (logged as an
``export`` event and in the researcher audit log), and the audit log itself."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from study_app.analysis.instrument_scores import InstrumentUse
from study_app.export.columns import AUDIT_COLUMNS, PARTICIPANT_COLUMNS, RESPONSE_COLUMNS
from study_app.export.csv_files import with_extra_columns, write_csv
from study_app.export.instrument_columns import add_instrument_scores
from study_app.export.participant_rows import participant_rows
from study_app.export.trial_rows import NO_RULES, response_rows
from study_app.store.repository import Repository, StudyRecord
from study_app.study.quality import QualityRules


def write_audit_csv(repository: Repository, path: str | Path) -> int:
    """The researcher audit log (every login, failed login, export, backup and withdrawal), oldest first."""
    rows = [{"id": e.id, "at": e.at, "action": e.action, "outcome": e.outcome, "actor": e.actor,
             "study_id": e.study_slug, "detail": e.detail} for e in reversed(repository.audit_log())]
    return write_csv(path, rows, AUDIT_COLUMNS)


@dataclass(frozen=True)
class ExportResult:
    responses: int
    participants: int
    responses_path: Path
    participants_path: Path
    responses_sha256: str
    audit_entries: int = 0
    audit_path: Path | None = None
    synthetic_left_out: int = 0  # xai-study simulate's participants of these versions not in the files


def relative_checkpoint(path: str | None, study_dir: str | Path | None) -> str | None:
    """The checkpoint folder relative to the study file's folder (``checkpoint_sha256`` beside it says which
    weights), so an export names no path of the server's; as stored without ``study_dir``."""
    if not path or study_dir is None or not Path(path).is_absolute():
        return path
    return Path(os.path.relpath(path, Path(study_dir).resolve())).as_posix()


def export_study(repository: Repository, records: list[StudyRecord], responses_path: str | Path,
                 participants_path: str | Path, *, now: dt.datetime | None = None, audit_path: str | Path | None = None,
                 actor: str = "cli", include_pilot: bool = False, rules: QualityRules = NO_RULES,
                 study_dir: str | Path | None = None, instruments: Sequence[InstrumentUse] | None = None,
                 include_synthetic: bool = False) -> ExportResult:
    """Write both CSVs (owner-only, like every file with participants' data) for the given study versions, log
    an ``export`` event for each version and an entry in the researcher audit log, then (with ``audit_path``)
    the audit log itself, this export included. ``study_dir``: the study file's folder, which the
    ``checkpoint`` column is relative to (:func:`relative_checkpoint`). ``instruments``: the validated
    questionnaires the study file names (their scores become participant columns; default: those found under
    their own name). ``include_synthetic``: also ``xai-study simulate``'s participants, with a ``synthetic``
    column (left out otherwise)."""
    now = now or dt.datetime.now(dt.UTC)
    responses, participants, left_out = [], [], 0
    for record in records:
        if not include_synthetic:
            left_out += sum(1 for p in repository.participants(record.id) if p.synthetic)
        rows = response_rows(repository, record, include_pilot=include_pilot, rules=rules,
                             include_synthetic=include_synthetic)
        for row in rows:
            row["checkpoint"] = relative_checkpoint(row.get("checkpoint"), study_dir)
        responses += rows
        participants += participant_rows(repository, record, include_pilot=include_pilot, rules=rules,
                                         trial_rows=rows, include_synthetic=include_synthetic)
    add_instrument_scores(participants, instruments)
    n_r = write_csv(responses_path, responses, with_extra_columns(RESPONSE_COLUMNS, responses))
    n_p = write_csv(participants_path, participants, with_extra_columns(PARTICIPANT_COLUMNS, participants))
    digest = hashlib.sha256(Path(responses_path).read_bytes()).hexdigest()
    for record in records:
        repository.log_event(record.id, "export", {
            "responses_csv": str(responses_path), "participants_csv": str(participants_path),
            "responses": n_r, "participants": n_p, "include_synthetic": include_synthetic,
        }, now, sha256=digest)
        repository.log_researcher_action("export", "ok", now, actor=actor, study_slug=record.slug, detail={
            "study_sha256": record.file_sha256, "responses": n_r, "participants": n_p, "responses_sha256": digest})
    n_a = write_audit_csv(repository, audit_path) if audit_path is not None else 0
    return ExportResult(n_r, n_p, Path(responses_path), Path(participants_path), digest, n_a,
                        Path(audit_path) if audit_path is not None else None, left_out)
