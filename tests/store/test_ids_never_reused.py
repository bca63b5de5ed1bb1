"""Ids are never reused, and nothing keyed by an id outlives or leaks across a participant.

Both scenarios of issue 11, on SQLite and PostgreSQL, with two engines on one database as two server
processes would be. Before AUTOINCREMENT (and NULL participant ids on withdrawal events), SQLite handed a
withdrawn participant's id to the next newcomer: 4 withdrawals left 1 event, and an engine that had cached
the withdrawn participant's plan served the newcomer from it.
"""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa
from study.kit import answer_for, run_participant

from study_app.store import Repository, make_engine
from study_app.study.plan import Plan


@pytest.fixture
def second_repo(repo):
    """A second repository (own connection pool) on the same database: a second server process."""
    other = Repository(make_engine(repo.engine.url.render_as_string(hide_password=False)))
    yield other
    other.dispose()


def _enrol(engine, rng, steps=3):
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    for _ in range(steps):
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    return token, step


def test_withdrawals_never_lose_each_others_audit_events(make_study, make_engine_for, repo, second_repo):
    study = make_study("verification", trials=3, checks=0)
    a, b = make_engine_for(study, repo), make_engine_for(study, second_repo)
    seen_ids = []
    for i in range(4):
        token, _ = _enrol(a if i % 2 else b, random.Random(i))
        seen_ids.append(repo.participant_by_token(token).id)
        (b if i % 2 else a).withdraw(token)
    assert len(set(seen_ids)) == 4, f"an id was handed out twice: {seen_ids}"
    withdrawals = [e for e in repo.events(a.record.id) if e.kind == "withdrawal"]
    assert len(withdrawals) == 4
    assert all(e.participant_id is None for e in withdrawals)  # no later deletion by id can reach them
    assert all(len(e.detail["participant"]) == 16 for e in withdrawals)  # the exported pseudonym
    assert repo.count_rows()["participants"] == 0
    logged = [x for x in repo.audit_log() if x.action == "withdrawal"]
    assert len(logged) == 4 and {x.outcome for x in logged} == {"ok"}


def test_a_newcomer_never_inherits_a_withdrawn_participants_id_events_or_cached_plan(
        make_study, make_engine_for, repo, second_repo):
    study = make_study("verification", trials=4, checks=0)
    a, b = make_engine_for(study, repo), make_engine_for(study, second_repo)
    run_participant(a, random.Random(0))  # someone who stays, with a lower id
    old_token, step = _enrol(a, random.Random(1), steps=4)  # engine a has cached this plan
    assert step.kind == "trial"
    old = repo.participant_by_token(old_token)
    b.withdraw(old_token)  # through the other process: a's cache still holds the old plan

    new_token, step = _enrol(b, random.Random(2), steps=3)
    new = repo.participant_by_token(new_token)
    assert new.id != old.id and new.id > old.id
    assert [e for e in repo.events(a.record.id) if e.participant_id == new.id and e.kind == "withdrawal"] == []
    # The newcomer answers through engine a, the one that cached the withdrawn participant's plan.
    for _ in range(20):
        if step.kind == "done":
            break
        step = a.submit(new_token, step.step_id, answer_for(step, random.Random(3)))
    assert step.kind == "done"
    plan = Plan.from_json(json.loads(repo.plans(a.record.id)[new.id]))
    planned = [(s.trial, s.phase, s.image_id) for s in plan.trial_steps]
    stored = [(r.trial_index, r.phase, r.image_id) for r in repo.responses(a.record.id) if r.participant_id == new.id]
    assert stored == planned, "the newcomer's answers were stored against another participant's plan"
    kinds = [e.kind for e in repo.events(a.record.id) if e.participant_id == new.id]
    assert kinds.count("consent") == 1 and kinds.count("completion") == 1


def test_sqlite_tables_whose_rows_can_be_deleted_are_autoincrement(sqlite_repo):
    with sqlite_repo.engine.connect() as conn:
        sql = dict(conn.execute(sa.text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all())
    for table in ("participants", "responses", "questionnaire_answers", "events", "researcher_log"):
        assert "AUTOINCREMENT" in sql[table], table


def test_plan_cache_is_keyed_by_the_enrolment_not_the_id(make_study, make_engine_for, sqlite_repo):
    """Even if an id came back (a restored backup, a hand-edited database), the cached plan would not:
    the cache key holds the enrolment's never-reused pseudonym."""
    import dataclasses

    engine = make_engine_for(make_study("verification", trials=4, checks=0), sqlite_repo)
    token, _ = _enrol(engine, random.Random(0))
    me = sqlite_repo.participant_by_token(token)
    engine._plan(me)
    assert (me.id, me.public_id) in engine._plans
    impostor = dataclasses.replace(me, public_id="0" * 16)
    engine._plan(impostor)  # same id, another enrolment: read from the database, cached apart
    assert (me.id, "0" * 16) in engine._plans and len(engine._plans) == 2
