"""Files with participants' data are owner-only (0600) under an ordinary umask (022): the SQLite database
with its WAL files, backups and manifests, and every export file, ``reliance.csv`` included (it and the
backups used to be world-readable). The export's ``checkpoint`` column names the folder relative to the
study file, not the server's absolute path; ``checkpoint_sha256`` says which weights."""

from __future__ import annotations

import csv
import os
import random
import stat
from pathlib import Path

import pytest
from study.kit import run_participant

from study_app.cli import main as cli_main
from study_app.store import Repository, make_engine


@pytest.fixture
def ordinary_umask():
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_participant_data_files_are_owner_only_and_paths_are_relative(ordinary_umask, tmp_path, make_study,
                                                                       make_engine_for, checkpoint_dir, capsys):
    study = make_study("verification", trials=3)
    database = tmp_path / "data" / "responses.sqlite"
    repo = Repository(make_engine(f"sqlite:///{database}"))
    engine = make_engine_for(study, repo)
    for seed in range(2):
        run_participant(engine, random.Random(seed))
    assert {p.name: _mode(p) for p in database.parent.iterdir()} == {
        "responses.sqlite": 0o600, "responses.sqlite-wal": 0o600, "responses.sqlite-shm": 0o600}
    repo.dispose()

    url = f"sqlite:///{database}"
    out = tmp_path / "results" / "responses.csv"
    assert cli_main(["export", "--study", str(study.source), "--db", url, "--out", str(out)]) == 0
    assert cli_main(["backup", "--db", url, "--out", str(tmp_path / "backups" / "b.sqlite")]) == 0
    capsys.readouterr()
    written = sorted([*out.parent.iterdir(), *(tmp_path / "backups").iterdir()])
    assert {p.name for p in written} == {"responses.csv", "participants.csv", "audit_log.csv", "reliance.csv",
                                         "b.sqlite", "b.sqlite.manifest.json"}
    assert {p.name: _mode(p) for p in written} == {p.name: 0o600 for p in written}

    with out.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    study_dir = Path(study.source).parent
    assert rows and {r["checkpoint"] for r in rows if r["checkpoint"]} == {
        os.path.relpath(checkpoint_dir, study_dir)}
    assert all(not Path(r["checkpoint"]).is_absolute() for r in rows)
    assert (study_dir / rows[0]["checkpoint"]).resolve() == Path(checkpoint_dir).resolve()
    assert all(len(r["checkpoint_sha256"]) == 64 for r in rows if r["checkpoint"])
