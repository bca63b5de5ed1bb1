"""A restore cannot destroy: a damaged, truncated or mismatched backup is refused with one ``restore:`` line,
and the target database, good data in it, is exactly as it was (SQLite and PostgreSQL). A SQLite backup with
damaged pages used to replace a good database and then crash with a traceback.

Each backup is tried twice: with its manifest as written now (the file's SHA-256 catches the damage at once)
and with the manifest of a release that recorded no file hash (then the scratch copy's integrity check and
table hashes must catch it).
"""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url
from study.kit import run_participant

from store.conftest import another_database, manifest_of
from study_app.cli import main as cli_main
from study_app.store import Repository, make_engine
from study_app.store.backup import backup_database, manifest_path


@pytest.fixture
def second_database(db_url, tmp_path):
    """Another database of the same kind (SQLite file, or PostgreSQL database with the same schema option)."""
    with another_database(db_url, tmp_path / 'target' / 'responses.sqlite', "xai_target") as url:
        yield url




def _participants(db_url, make_study, make_engine_for, seeds):
    repo = Repository(make_engine(db_url))
    engine = make_engine_for(make_study("verification", trials=2), repo)
    for seed in seeds:
        run_participant(engine, random.Random(seed))
    repo.dispose()


@pytest.fixture
def good_target_and_backup(db_url, second_database, tmp_path, make_study, make_engine_for, capsys):
    """A target holding a good restored study, and a newer backup of the live database (one more participant)."""
    _participants(db_url, make_study, make_engine_for, [1])
    first = backup_database(db_url, tmp_path / "first.bak")
    assert cli_main(["restore", "--from", str(first.path), "--db", second_database]) == 0
    _participants(db_url, make_study, make_engine_for, [2])
    newer = backup_database(db_url, tmp_path / "newer.bak")
    capsys.readouterr()
    return second_database, newer.path


def _without_file_hash(backup):
    meta = json.loads(manifest_path(backup).read_text())
    meta.pop("file_sha256"), meta.pop("file_bytes")
    manifest_path(backup).write_text(json.dumps(meta))


def _refused(capsys, backup, target, *, force=True):
    code = cli_main(["restore", "--from", str(backup), "--db", target, *(["--force"] if force else [])])
    err = capsys.readouterr().err
    assert code == 1, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("restore: ") and "Traceback" not in err, err
    return lines[0]


def _damage_pages(path):
    """Garbage over a few pages in the middle of the file, as a failing disk or a bad copy leaves them."""
    data = bytearray(path.read_bytes())
    middle = (len(data) // 2) & ~4095
    data[middle:middle + 3 * 4096] = random.Random(7).randbytes(3 * 4096)
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("old_manifest", [False, True], ids=["manifest", "manifest-without-file-hash"])
@pytest.mark.parametrize("damage", ["damaged pages", "truncated"])
def test_a_damaged_backup_leaves_the_target_as_it_was(good_target_and_backup, capsys, damage, old_manifest):
    target, backup = good_target_and_backup
    before = manifest_of(target)
    if damage == "truncated":
        backup.write_bytes(backup.read_bytes()[: backup.stat().st_size // 2])
    else:
        _damage_pages(backup)
    if old_manifest:
        _without_file_hash(backup)
    line = _refused(capsys, backup, target)
    assert "nothing was changed" in line
    assert manifest_of(target) == before
    if target.startswith("sqlite"):
        path = make_url(target).database
        with sqlite3.connect(path) as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()
        assert sorted(p.name for p in Path(path).parent.iterdir() if ".restore-" in p.name) == []


def test_a_backup_that_does_not_match_its_manifest_leaves_the_target_as_it_was(good_target_and_backup, capsys):
    target, backup = good_target_and_backup
    before = manifest_of(target)
    meta = json.loads(manifest_path(backup).read_text())
    meta["tables"]["responses"]["rows"] += 1  # the manifest of another backup, or a hand-edited one
    manifest_path(backup).write_text(json.dumps(meta))
    line = _refused(capsys, backup, target)
    assert "differs from its manifest in: responses" in line and "nothing was changed" in line
    assert manifest_of(target) == before


def test_a_good_restore_replaces_the_target_and_says_where(good_target_and_backup, capsys):
    target, backup = good_target_and_backup
    assert cli_main(["restore", "--from", str(backup), "--db", target, "--force"]) == 0
    out = capsys.readouterr().out
    shown = make_url(target).render_as_string(hide_password=True)
    assert out.startswith(f"database: {shown}") and f"into {shown}" in out
    restored = {t: m for t, m in manifest_of(target).items() if t != "researcher_log"}
    expected = json.loads(manifest_path(backup).read_text())["tables"]
    assert restored == {t: m for t, m in expected.items() if t != "researcher_log"}


def test_a_damaged_sqlite_backup_into_a_fresh_path_leaves_no_file(tmp_path, make_study, make_engine_for, capsys):
    live = f"sqlite:///{tmp_path / 'live.sqlite'}"
    _participants(live, make_study, make_engine_for, [1])
    backup = backup_database(live, tmp_path / "copy.sqlite").path
    _damage_pages(backup)
    _without_file_hash(backup)
    fresh = tmp_path / "fresh" / "responses.sqlite"
    _refused(capsys, backup, f"sqlite:///{fresh}", force=False)
    assert not fresh.exists() and not list(fresh.parent.glob("*"))  # nothing that would need --force later
    undamaged = backup_database(live, tmp_path / "copy2.sqlite").path
    assert cli_main(["restore", "--from", str(undamaged), "--db", f"sqlite:///{fresh}"]) == 0  # no --force needed


def test_backing_up_a_damaged_database_is_one_line_and_leaves_no_file(tmp_path, make_study, make_engine_for,
                                                                      capsys):
    live = tmp_path / "live.sqlite"
    _participants(f"sqlite:///{live}", make_study, make_engine_for, [1])
    _damage_pages(live)
    out = tmp_path / "backups" / "b.sqlite"
    assert cli_main(["backup", "--db", f"sqlite:///{live}", "--out", str(out)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("backup: ") and "Traceback" not in err[0]
    assert list(out.parent.iterdir()) == []
