"""One database rule for the app and every database command: ``--db``, ``$XAI_STUDY_DB_URL``, ``db_url`` in
secrets.toml, else ``responses.sqlite`` beside the study file the app runs (``--study``, ``$XAI_STUDY_FILE``,
secrets.toml ``study_file``, the demo); each command prints the database it used, password masked.

Before, ``backup --out FILE`` and a bare ``db status`` used ``./responses.sqlite`` while the app used the
one beside its study file, and ``restore --from FILE`` silently created ``responses.sqlite`` in the working
directory.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from study.kit import postgres_url, run_participant

from study_app.cli import main as cli_main
from study_app.settings import database_for, resolve_settings
from study_app.store import Repository, make_engine
from study_app.store.backup import table_manifest


@pytest.fixture
def operator_shell(tmp_path, monkeypatch, make_study, make_engine_for):
    """An operator's shell: the app's study set by $XAI_STUDY_FILE, answers in the database beside it, and a
    working directory elsewhere (no secrets.toml there or in the home folder)."""
    study = make_study("verification", trials=2)
    beside = Path(study.source).parent / "responses.sqlite"
    repo = Repository(make_engine(f"sqlite:///{beside}"))
    run_participant(make_engine_for(study, repo), random.Random(0))
    repo.dispose()
    for name in ("XAI_STUDY_DB_URL", "XAI_STUDY_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XAI_STUDY_FILE", str(study.source))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    return study, beside, elsewhere


def _rows(path: Path) -> int:
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as conn:
            return table_manifest(conn)["responses"]["rows"]
    finally:
        engine.dispose()


def test_the_app_and_every_command_use_the_database_beside_the_study_file(operator_shell, tmp_path, capsys):
    study, beside, elsewhere = operator_shell
    app = database_for(resolve_settings({}, argv=()))  # what the app opens, with the same environment
    assert Path(app.url.removeprefix("sqlite:///")) == beside

    assert cli_main(["db", "status"]) == 0
    assert capsys.readouterr().out.startswith(f"database: sqlite:///{beside} (study file {study.source})")

    backup = tmp_path / "backups" / "b.sqlite"
    assert cli_main(["backup", "--out", str(backup)]) == 0
    assert f"database: sqlite:///{beside}" in capsys.readouterr().out
    assert _rows(backup) == _rows(beside) > 0

    beside.unlink()
    assert cli_main(["restore", "--from", str(backup)]) == 0
    out = capsys.readouterr().out
    assert f"into sqlite:///{beside}" in out and _rows(beside) == _rows(backup)
    assert list(elsewhere.iterdir()) == []  # nothing created in the working directory

    assert cli_main(["db", "status", "--study", str(study.source)]) == 0  # --study: the same database
    assert f"database: sqlite:///{beside}" in capsys.readouterr().out


def test_a_study_that_is_not_a_file_is_refused(operator_shell, capsys):
    assert cli_main(["backup", "--study", "no-such-study.toml", "--out", "x.sqlite"]) == 1
    assert "no study file at no-such-study.toml" in capsys.readouterr().err
    assert not Path("x.sqlite").exists()


@pytest.mark.postgres
def test_the_printed_database_masks_its_password(operator_shell, capsys):
    url = postgres_url()
    assert ":xai@" in url  # the test server's password is in the URL
    cli_main(["db", "status", "--db", url])
    out = capsys.readouterr().out
    assert out.startswith("database: postgresql+psycopg://xai:***@") and ":xai@" not in out
