"""Upgrading a 0002 study database to 0003 (``shown_trials``) keeps every row, and from then on each trial
is recorded when it is shown; trials shown before the upgrade stay without a record (nothing is invented)."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa
from study.kit import answer_for, run_participant

from study_app.export import response_rows
from study_app.store import Repository, make_engine
from study_app.store.migrate import MIGRATIONS_DIR, SchemaMismatch, _run, schema_state, upgrade_database
from study_app.store.schema import Base

REVISION_0002 = "0002_ids_secrets_audit"
TABLES_0002 = ["studies", "participants", "assignments", "responses", "questionnaire_answers", "events",
               "researcher_log", "login_throttle"]


class PngHashes:
    """A map server that hands out a recognisable PNG hash per map (the engine records it)."""

    def serve_step(self, step):
        return [type("Served", (), {"png_sha256": f"png:{step.image_id}:{m.key}", "cache_key": m.cache_key,
                                    "map_sha256": "m", "checkpoint_sha256": step.checkpoint_sha256,
                                    "faithfulness": None})() for m in step.maps]


def _rows(engine, name):
    with engine.connect() as conn:
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        return [tuple(r) for r in conn.execute(sa.select(table).order_by(*table.primary_key.columns))]


def test_upgrade_from_0002_keeps_every_row_and_records_showing_from_then_on(db_url, tmp_path, make_study,
                                                                            make_engine_for, clock):
    study = make_study("verification", trials=3, checks=0)
    scratch = Repository(make_engine(f"sqlite:///{tmp_path / 'scratch.sqlite'}"))
    engine_then = make_engine_for(study, scratch)
    run_participant(engine_then, random.Random(0), clock=clock)
    midway = engine_then.start_or_resume(None)
    step = engine_then.current_step(midway)
    for _ in range(4):  # consent, questionnaire, instructions, first trial: the second trial is on screen
        step = engine_then.submit(midway, step.step_id, answer_for(step, random.Random(1)))
    assert step.kind == "trial" and step.trial.index == 1

    engine = make_engine(db_url)
    try:
        with engine.begin() as conn:
            _run(conn, MIGRATIONS_DIR, REVISION_0002)
        with scratch.engine.connect() as src, engine.begin() as dst:
            for name in TABLES_0002:
                rows = [dict(r._mapping) for r in src.execute(sa.select(Base.metadata.tables[name]))]
                if rows:
                    dst.execute(sa.Table(name, sa.MetaData(), autoload_with=dst).insert(), rows)
        scratch.dispose()
        before = {name: _rows(engine, name) for name in TABLES_0002}
        with pytest.raises(SchemaMismatch, match="xai-study db upgrade"):
            Repository(engine)
        head = schema_state(engine)[1]  # 0003 or a later release's head: the upgrade passes through 0003
        assert upgrade_database(engine) == head and schema_state(engine) == (head, head)
        # every row kept as it was (a later release may append columns: compare the 0002 ones)
        assert {name: [r[:len(before[name][0])] for r in _rows(engine, name)] if before[name] else []
                for name in TABLES_0002} == before
        assert _rows(engine, "shown_trials") == []

        repo = Repository(engine)
        carried_on = make_engine_for(study, repo, maps=PngHashes())
        step = carried_on.current_step(midway)
        while step.kind != "done":
            step = carried_on.submit(midway, step.step_id, answer_for(step, random.Random(3)))
        participant = repo.participant_by_token(midway)
        rows = sorted((r for r in response_rows(repo, carried_on.record) if r["participant"] == participant.public_id),
                      key=lambda r: r["trial_index"])
        assert [r.get("png_sha256") for r in rows[:2]] == [None, None]  # shown before the upgrade: no record
        later = rows[2:]
        assert later and all(r["png_sha256"] == f"png:{r['image_id']}:{r['methods']}" for r in later)
        assert all(len(r["map_cache_key"]) == 64 for r in later)
        assert len(_rows(engine, "shown_trials")) == len(later)
        repo.dispose()
    finally:
        engine.dispose()
