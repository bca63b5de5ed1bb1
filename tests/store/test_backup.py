"""Backups taken while 20 threads write, restored and compared table by table (SQLite and PostgreSQL)."""

from __future__ import annotations

import random
import sqlite3
import threading

import pytest
from study.kit import run_participant

from store.conftest import another_database, manifest_of
from study_app.cli import main as cli_main
from study_app.store import Repository, make_engine
from study_app.store.backup import BackupError, backup_database
from study_app.store.restore import restore_database

WRITERS = 20


@pytest.fixture
def restore_target(db_url, tmp_path):
    """An empty database of the same kind: a new SQLite file, or a new PostgreSQL database."""
    with another_database(db_url, tmp_path / 'restored.sqlite', "xai_restore") as url:
        yield url




def test_a_backup_during_a_write_burst_restores_exactly(db_url, restore_target, tmp_path, make_study,
                                                        make_engine_for, clock):
    repo = Repository(make_engine(db_url))
    engine = make_engine_for(make_study("verification", trials=4, checks=1), repo)
    run_participant(engine, random.Random(99))  # something to back up even if the burst is slow to start
    started, errors = threading.Barrier(WRITERS + 1), []

    def writer(i):
        try:
            started.wait()
            for j in range(3):
                run_participant(engine, random.Random(i * 100 + j))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(i,)) for i in range(WRITERS)]
    for t in threads:
        t.start()
    started.wait()
    result = backup_database(db_url, tmp_path / "backup.bin")  # while the 20 writers are at it
    for t in threads:
        t.join()
    assert not errors, errors[:3]

    backed_up = result.manifest["tables"]
    final = repo.count_rows()
    assert backed_up["responses"]["rows"] >= 5  # at least the first participant
    assert all(backed_up[t]["rows"] <= n for t, n in final.items())  # a snapshot of the past, no more
    if db_url.startswith("sqlite"):
        with sqlite3.connect(tmp_path / "backup.bin") as check:
            assert check.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        check.close()

    restore_database(result.path, restore_target)  # verifies every table against the manifest itself
    restored = manifest_of(restore_target)
    audit = "researcher_log"  # the restore then logs itself there, one row more
    assert {t: m for t, m in restored.items() if t != audit} == {t: m for t, m in backed_up.items() if t != audit}
    assert restored[audit]["rows"] == backed_up[audit]["rows"] + 1
    restored_repo = Repository(make_engine(restore_target))  # the restored copy is a working study database
    kept = {(r.participant_id, r.trial_index, r.phase, r.answer_sha256) for r in restored_repo.responses(engine.record.id)}
    live = {(r.participant_id, r.trial_index, r.phase, r.answer_sha256) for r in repo.responses(engine.record.id)}
    assert kept and kept <= live
    restored_repo.dispose()

    with pytest.raises(BackupError, match="--force"):  # never over a database with data by accident
        restore_database(result.path, restore_target)
    assert [e.action for e in repo.audit_log()][:1] == ["backup"]
    repo.dispose()


def test_cli_backup_and_restore_sqlite(tmp_path, make_study, make_engine_for, capsys):
    url = f"sqlite:///{tmp_path / 'live.sqlite'}"
    repo = Repository(make_engine(url))
    run_participant(make_engine_for(make_study("verification", trials=2), repo), random.Random(0))
    repo.dispose()
    out = tmp_path / "backups" / "copy.sqlite"
    assert cli_main(["backup", "--db", url, "--out", str(out)]) == 0
    assert "backed up" in capsys.readouterr().out
    target = f"sqlite:///{tmp_path / 'back.sqlite'}"
    assert cli_main(["restore", "--from", str(out), "--db", target]) == 0
    assert "matches its manifest" in capsys.readouterr().out
    assert cli_main(["restore", "--from", str(out), "--db", target]) == 1
    assert "--force" in capsys.readouterr().err
    with sqlite3.connect(out) as tamper:  # a changed backup is caught by the manifest's file hash
        tamper.execute("DELETE FROM responses WHERE id = (SELECT MAX(id) FROM responses)")
    tamper.close()
    assert cli_main(["restore", "--from", str(out), "--db", target, "--force"]) == 1
    assert "does not match its manifest" in capsys.readouterr().err
