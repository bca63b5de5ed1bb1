"""The repository on real SQLite and real PostgreSQL: round trips, constraints, configuration."""

from __future__ import annotations

import datetime as dt
import sqlite3

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from study.kit import run_participant

from study_app.store import DatabaseConfigError, Repository, make_engine, resolve_db_url

NASTY = {
    "emoji": "I trust it 👍🏽🐈‍⬛ (family: 👨‍👩‍👧)",
    "rtl": "הסבר זה עזר לי — هذا التفسير ساعدني",
    "nul": "before\x00after",
    "long": "ab" * 5000,
    "formula": "=HYPERLINK(\"http://evil\",\"x\")",
    "sql": "1'; DROP TABLE responses;--",
    "newlines": "line1\r\nline2\n\ttabbed",
}


def _to_first_trial(engine, token):
    step = engine.current_step(token)
    while step.kind != "trial":
        answer = {"agree": True} if step.kind == "consent" else {}
        if step.kind == "pre_questionnaire":
            answer = {"age_band": "25-34", "ml_experience": "none", "domain_expertise": 2}
        step = engine.submit(token, step.step_id, answer)
    return step


@pytest.mark.parametrize("name", list(NASTY))
def test_free_text_round_trips_exactly(name, make_study, make_engine_for, repo):
    value = NASTY[name]
    tail = """
[[post_questionnaire]]
id = "thoughts"
text = "Anything else?"
kind = "text"
"""
    engine = make_engine_for(make_study("verification", trials=2, checks=0, tail=tail), repo)
    token = engine.start_or_resume()
    step = _to_first_trial(engine, token)
    step = engine.submit(token, step.step_id, {"decision": "accept", "confidence": 2, "comment": value})
    step = engine.submit(token, step.step_id, {"decision": "reject", "confidence": 1})
    assert step.kind == "post_questionnaire"
    assert engine.submit(token, step.step_id, {"thoughts": value}).kind == "done"
    stored = list(repo.responses(engine.record.id))
    assert stored[0].answer["comment"] == value
    (post,) = [q for q in repo.questionnaire_answers(engine.record.id) if q.question_id == "thoughts"]
    assert post.answer == value
    assert len(value) <= 10_000
    assert "responses" in repo.count_rows()  # the SQL-looking text was data, not SQL


def test_one_row_per_participant_trial_phase_is_enforced_by_the_database(make_study, make_engine_for, repo):
    from study_app.store.schema import ResponseRow

    engine = make_engine_for(make_study("verification", trials=2, checks=0), repo)
    token = engine.start_or_resume()
    step = _to_first_trial(engine, token)
    engine.submit(token, step.step_id, {"decision": "accept", "confidence": 2})
    (row,) = list(repo.responses(engine.record.id))
    with pytest.raises(IntegrityError):
        with repo._sessions.begin() as session:
            session.add(ResponseRow(
                participant_id=repo.participant_by_token(token).id, trial_index=row.trial_index, phase=row.phase,
                task="pets", image_id=row.image_id, shown_at=None, answered_at=row.answered_at,
                response_time_ms=None, answer_json="{}", answer_sha256="0" * 64, correct=None,
                is_attention_check=False, attention_passed=None,
            ))
    assert len(list(repo.responses(engine.record.id))) == 1


def test_times_come_back_as_aware_utc(make_study, make_engine_for, repo, clock):
    engine = make_engine_for(make_study("verification", trials=2), repo)
    token, _ = run_participant(engine, clock=clock)
    p = repo.participant_by_token(token)
    assert p.completed_at.tzinfo is not None
    assert p.completed_at == clock.now
    # the simulated participant waits 2 s before each answer, consent included
    assert p.consented_at == dt.datetime(2026, 1, 1, 12, 0, 2, tzinfo=dt.UTC)


def test_event_log_hashes_each_stored_answer(make_study, make_engine_for, repo):
    from study_app.study.answers import answer_sha256

    engine = make_engine_for(make_study("rate", trials=2, checks=0), repo)
    token, _ = run_participant(engine)
    events = repo.events(engine.record.id)
    kinds = [e.kind for e in events]
    assert kinds[0] == "consent" and kinds[-1] == "completion"
    answers = [e for e in events if e.kind == "answer"]
    stored = list(repo.responses(engine.record.id))
    hashes = {e.sha256 for e in answers}
    assert {r.answer_sha256 for r in stored} <= hashes
    assert all(answer_sha256(r.answer) == r.answer_sha256 for r in stored)
    # one answer event per stored step: pre, instructions, trials, post
    assert len(answers) == 1 + 1 + len(stored) + 1


def test_study_versions_are_kept_apart(make_study, make_engine_for, repo):
    a = make_engine_for(make_study("verification", trials=2, sid="same"), repo)
    b = make_engine_for(make_study("verification", trials=3, sid="same"), repo)
    assert a.record.id != b.record.id and a.record.slug == b.record.slug
    assert a.record.file_sha256 != b.record.file_sha256
    assert len(repo.studies("same")) == 2
    again = make_engine_for(a.study, repo)
    assert again.record == a.record


def test_sqlite_runs_in_wal_mode_with_busy_timeout_and_foreign_keys(tmp_path):
    path = tmp_path / "x.sqlite"
    repo = Repository(make_engine(f"sqlite:///{path}"))
    with repo.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 30_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    repo.dispose()
    # another process (plain sqlite3) sees the WAL journal mode persisted in the file
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_resolve_db_url_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    secrets_file = tmp_path / "secrets.toml"
    study = tmp_path / "studies" / "s.toml"
    assert resolve_db_url(study_path=study, secrets_paths=[secrets_file]) == \
        f"sqlite:///{tmp_path / 'studies' / 'responses.sqlite'}"
    secrets_file.write_text('db_url = "postgresql+psycopg://u:p@h/db"\nother = 1\n')
    assert resolve_db_url(study_path=study, secrets_paths=[secrets_file]) == "postgresql+psycopg://u:p@h/db"
    monkeypatch.setenv("XAI_STUDY_DB_URL", "sqlite:///from-env.sqlite")
    assert resolve_db_url(study_path=study, secrets_paths=[secrets_file]) == "sqlite:///from-env.sqlite"
    assert resolve_db_url("sqlite:///cli.sqlite", secrets_paths=[secrets_file]) == "sqlite:///cli.sqlite"


def test_bad_database_configuration_is_named(tmp_path, monkeypatch):
    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    bad = tmp_path / "secrets.toml"
    bad.write_text("db_url = [1")
    with pytest.raises(DatabaseConfigError, match="secrets.toml"):
        resolve_db_url(secrets_paths=[bad])
    bad.write_text("db_url = 5")
    with pytest.raises(DatabaseConfigError, match="db_url"):
        resolve_db_url(secrets_paths=[bad])
    with pytest.raises(DatabaseConfigError, match="not a database URL"):
        make_engine("not a url at all")
