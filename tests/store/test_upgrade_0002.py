"""Upgrading a study database of revision 0001 (tokens in clear, key in the database, ids reusable) to
0002 keeps every row, and the study carries on: old links resume, returning Prolific participants are
recognised with the database key (the documented option for such studies), and no id comes back.
"""

from __future__ import annotations

import hashlib
import random

import pytest
import sqlalchemy as sa
from study.kit import answer_for, run_participant

from study_app.store import Repository, make_engine
from study_app.store.migrate import BASELINE_REVISION, MIGRATIONS_DIR, SchemaMismatch, _run, upgrade_database
from study_app.store.schema import Base
from study_app.study.id_key import IdKey, IdKeyError

OLD_KEY = "test-suite-only-id-key"  # what the 0001 study row held; the engines in the scratch run used it
BASELINE_TABLES = ["studies", "participants", "assignments", "responses", "questionnaire_answers", "events"]


def _reflect(conn, name):
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def _rows(engine, name):
    with engine.connect() as conn:
        table = _reflect(conn, name)
        order = list(table.primary_key.columns)
        return [dict(r._mapping) for r in conn.execute(sa.select(table).order_by(*order))]


def _old_release_database(engine, tmp_path, study, make_engine_for, clock) -> dict:
    """A 0001 database holding what the old release wrote: real participants run on a scratch database
    with today's code, copied row by row into the old shape (clear tokens, withdrawal event keyed by id)."""
    scratch = Repository(make_engine(f"sqlite:///{tmp_path / 'scratch.sqlite'}"))
    engine_now = make_engine_for(study, scratch)
    done, _ = run_participant(engine_now, random.Random(0), external_ids={"PROLIFIC_PID": "returning"},
                              clock=clock)
    midway = engine_now.start_or_resume(None)
    step = engine_now.current_step(midway)
    for _ in range(4):
        step = engine_now.submit(midway, step.step_id, answer_for(step, random.Random(1)))
    leaver, _ = run_participant(engine_now, random.Random(2), clock=clock)
    leaver_id = scratch.participant_by_token(leaver).id
    engine_now.withdraw(leaver)  # the highest id: the old release would have handed it out again
    clear = {hashlib.sha256(t.encode()).hexdigest(): t for t in (done, midway)}

    with engine.begin() as conn:
        _run(conn, MIGRATIONS_DIR, BASELINE_REVISION)
    with scratch.engine.connect() as src, engine.begin() as dst:
        for name in BASELINE_TABLES:
            rows = [dict(r._mapping) for r in src.execute(sa.select(Base.metadata.tables[name]))]
            for row in rows:
                if name == "studies":
                    row["id_key"] = OLD_KEY
                if name == "participants":
                    row["token"] = clear[row.pop("token_sha256")]
                if name == "events" and row["kind"] == "withdrawal":
                    row["participant_id"] = leaver_id
            if rows:
                dst.execute(_reflect(dst, name).insert(), rows)
    scratch.dispose()
    return {"done": done, "midway": midway, "leaver_id": leaver_id}


def test_upgrade_from_0001_keeps_every_row_and_the_study_carries_on(db_url, tmp_path, make_study,
                                                                    make_engine_for, clock):
    study = make_study("verification", trials=3, checks=1)
    engine = make_engine(db_url)
    try:
        old = _old_release_database(engine, tmp_path, study, make_engine_for, clock)
        before = {name: _rows(engine, name) for name in BASELINE_TABLES}
        with pytest.raises(SchemaMismatch, match="xai-study db upgrade"):
            Repository(engine)
        upgrade_database(engine)
        # the columns this release's 0001 rows had (a later migration may add columns to a table)
        known = {name: (set(rows[0]) | {"token_sha256"}) - {"token"} if rows else set()
                 for name, rows in before.items()}
        after = {name: [{k: v for k, v in r.items() if k in known[name]} for r in _rows(engine, name)]
                 for name in BASELINE_TABLES}

        for name in ("studies", "assignments", "responses", "questionnaire_answers"):
            assert after[name] == before[name], name
        assert [{**r, "token": None} for r in before["participants"]] == [
            {**{k: v for k, v in r.items() if k != "token_sha256"}, "token": None} for r in after["participants"]]
        for was, now in zip(before["participants"], after["participants"]):
            assert now["token_sha256"] == hashlib.sha256(was["token"].encode()).hexdigest()
        for was, now in zip(before["events"], after["events"], strict=True):
            expected = {**was, "participant_id": None} if was["kind"] == "withdrawal" else was
            assert now == expected

        repo = Repository(engine)
        with pytest.raises(IdKeyError, match='id_key = "database"'):  # ids were hashed with the old key
            make_engine_for(study, repo, id_key=b"some-other-key")
        carried_on = make_engine_for(study, repo, id_key=IdKey(None, "database"))
        assert carried_on.current_step(old["done"]).kind == "done"  # an old link still resumes
        step = carried_on.current_step(old["midway"])
        assert step.kind == "trial"
        while step.kind != "done":
            step = carried_on.submit(old["midway"], step.step_id, answer_for(step, random.Random(3)))
        first = repo.participant_by_token(old["done"])
        returning = carried_on.start_or_resume(None, external_ids={"PROLIFIC_PID": "returning"})
        assert repo.participant_by_token(returning).id == first.id  # recognised by the hashed Prolific id

        newcomer = carried_on.start_or_resume(None)
        carried_on.submit(newcomer, "consent", {"agree": True})
        assert repo.participant_by_token(newcomer).id > old["leaver_id"]
        carried_on.withdraw(newcomer)
        assert [e.kind for e in repo.events(carried_on.record.id)].count("withdrawal") == 2
        repo.dispose()
    finally:
        engine.dispose()
