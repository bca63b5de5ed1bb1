"""Schema upgrades happen only on request (``xai-study db upgrade``). ``xai-study serve`` used to upgrade a
database holding answers (0003 -> 0004) when it started, with no backup; a study begun before revision 0002
was then refused by every replica ("not available") while ``xai-study check`` said READY.

Now serve and the app refuse, naming ``xai-study backup`` and ``xai-study db upgrade``; ``check`` fails on
every condition a server would refuse; ``db upgrade`` says what a pre-0002 study still needs.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from study_app.cli import main as cli_main
from study_app.readiness import check_readiness
from study_app.serve.launcher import DeploymentError, prepare_database
from study_app.serve.refusals import StudyKeys, database_refusals
from study_app.settings import Settings
from study_app.store import Repository, make_engine
from study_app.store.migrate import MIGRATIONS_DIR, SchemaMismatch, _run, schema_state, upgrade_database

REVISION_0003 = "0003_shown_trials"
NOW = dt.datetime(2026, 1, 2, tzinfo=dt.UTC)


def _study_row(engine, slug: str, id_key: str | None) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO studies (slug, file_sha256, title, created_at, id_key) "
                             "VALUES (:slug, :sha, 'T', :at, :key)"),
                     {"slug": slug, "sha": "0" * 64, "at": NOW, "key": id_key})


def _at_0003_with_a_study(db_url) -> sa.Engine:
    engine = make_engine(db_url)
    with engine.begin() as conn:
        _run(conn, MIGRATIONS_DIR, REVISION_0003)
    _study_row(engine, "old-study", None)
    return engine


def test_serve_refuses_an_older_schema_and_changes_nothing(db_url):
    engine = _at_0003_with_a_study(db_url)
    try:
        with pytest.raises(DeploymentError) as refused:
            prepare_database(db_url, None, id_key=None)
        message = str(refused.value)
        assert "xai-study backup --db" in message and "xai-study db upgrade --db" in message
        assert "never upgrades" in message
        assert schema_state(engine)[0] == REVISION_0003  # not upgraded
        with pytest.raises(SchemaMismatch, match="xai-study backup"):  # the app's own refusal names both too
            Repository(engine)
    finally:
        engine.dispose()


def test_serve_creates_an_empty_database(db_url):
    revision = prepare_database(db_url, None, id_key=None)
    engine = make_engine(db_url)
    try:
        assert schema_state(engine) == (revision, revision)
    finally:
        engine.dispose()


@pytest.fixture
def pre_0002_study(db_url, make_study):
    """A database at the head revision (upgraded) holding a study begun before 0002: its key in its row."""
    study = make_study("verification", trials=2)
    upgrade_database(db_url)
    engine = make_engine(db_url)
    _study_row(engine, study.id, "key-kept-in-the-database")
    engine.dispose()
    return study


def test_a_pre_0002_study_is_refused_by_serve_and_check_until_the_key_is_database(db_url, pre_0002_study,
                                                                                 monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no secrets.toml
    monkeypatch.delenv("XAI_STUDY_ID_KEY", raising=False)
    keys = StudyKeys(pre_0002_study.id, hashes_ids=True)
    (problem,) = database_refusals(db_url, keys, id_key=None)
    assert 'id_key = "database"' in problem
    with pytest.raises(DeploymentError, match="XAI_STUDY_ID_KEY=database"):
        prepare_database(db_url, pre_0002_study.source, id_key=None)
    settings = Settings.given(pre_0002_study.source, "x" * 12, env={})
    (database,) = [c for c in check_readiness(settings, db_url=db_url, replicas=1).checks
                   if c.name.startswith("database reachable")]
    assert not database.ok and database.blocking and 'id_key = "database"' in database.detail

    assert database_refusals(db_url, keys, id_key="database") == []
    assert database_refusals(db_url, keys, id_key=" Database ") == []
    assert database_refusals(db_url, keys, id_key="some-other-key") != []
    assert database_refusals(db_url, StudyKeys(pre_0002_study.id, hashes_ids=False), id_key=None) == []
    for env, secrets in (({"XAI_STUDY_ID_KEY": "database"}, {}), ({}, {"id_key": "database"})):
        configured = Settings.given(pre_0002_study.source, "x" * 12, env=env, secrets=secrets)
        assert database_refusals(db_url, keys, id_key=configured.id_key.value) == []
    monkeypatch.setenv("XAI_STUDY_ID_KEY", "database")
    settings = Settings.given(pre_0002_study.source, "x" * 12)  # the process environment, as check resolves it
    (database,) = [c for c in check_readiness(settings, db_url=db_url, replicas=1).checks
                   if c.name.startswith("database reachable")]
    assert database.ok, database.detail


def test_db_upgrade_names_what_a_pre_0002_study_still_needs(db_url, make_study, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XAI_STUDY_ID_KEY", raising=False)
    study = make_study("verification", trials=2)
    engine = _at_0003_with_a_study(db_url)
    _study_row(engine, study.id, "key-kept-in-the-database")
    engine.dispose()
    assert cli_main(["db", "upgrade", "--db", db_url, "--study", str(study.source)]) == 0
    out = capsys.readouterr().out
    assert "upgraded from 0003_shown_trials" in out
    assert "a server will refuse this study until" in out and 'id_key = "database"' in out
