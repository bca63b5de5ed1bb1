"""What a participant was shown is recorded when it is shown, from the very maps the page draws, and the
export reports that record even after the attribution cache is replaced."""

from __future__ import annotations

import hashlib
import json
import random

import numpy as np

from study.kit import answer_for, run_participant
from study_app.explain.cache import AttributionCache
from study_app.export import response_rows
from study_app.maps.service import MapRequest, make_map_service
from study_app.study.plan import Plan


def _request(trial, shown):
    return MapRequest.of(trial.checkpoint, trial.image_path, shown)


def test_the_record_is_written_when_the_trial_is_shown_with_the_served_png(make_study, make_engine_for, repo,
                                                                           tmp_path):
    study = make_study("verification", trials=2, checks=0)
    maps = make_map_service(tmp_path / "cache")
    engine = make_engine_for(study, repo, maps=maps)
    token = engine.start_or_resume()
    step = engine.current_step(token)
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step))
    (record,) = repo.shown_trials(engine.record.id)  # shown, not answered yet
    trial = step.trial
    served = maps.cached(_request(trial, trial.methods[0]))  # what the page draws: the same object
    assert record.trial_index == trial.index and record.phase == trial.phase
    assert record.image_sha256 == hashlib.sha256(open(trial.image_path, "rb").read()).hexdigest()
    assert record.checkpoint_sha256 == engine.predictions["pets"].checkpoint_sha256
    assert record.target_label == engine.predictions["pets"].by_image[trial.image_id].label
    (shown,) = record.maps
    assert shown.png_sha256 == hashlib.sha256(served.png).hexdigest()
    assert shown.cache_key == served.cache_key and shown.cache_key in maps.service.cache
    assert record.shown_at == repo.participant_by_token(token).stage_shown_at
    engine.current_step(token)  # a reload writes no second record
    assert len(repo.shown_trials(engine.record.id)) == 1


def test_the_export_reports_what_was_shown_after_the_cache_is_replaced(make_study, make_engine_for, repo, tmp_path):
    study = make_study("distinction", trials=2, checks=0)
    folder = tmp_path / "cache"
    engine = make_engine_for(study, repo, maps=make_map_service(folder))
    run_participant(engine, random.Random(4))
    columns = ("map_cache_key", "map_sha256", "png_sha256", "image_sha256", "checkpoint_sha256", "target_label")
    before = [{c: row[c] for c in columns} for row in response_rows(repo, engine.record)]
    assert before and all(isinstance(r["png_sha256"], dict) and len(r["png_sha256"]) == 2 for r in before)

    # The cache is rebuilt after the participant saw the trials: every entry now holds another map under
    # the same key (as a rerun with other library versions or seeds would), and the server restarts.
    cache, rng = AttributionCache(folder), np.random.default_rng(0)
    for key in cache.keys():
        entry = cache.get(key)
        cache.put(key, rng.random(entry.map_hw.shape, dtype=np.float32), entry.record)
    restarted = make_map_service(folder)
    recorded = [(record, m) for record in repo.shown_trials(engine.record.id) for m in record.maps]
    assert recorded
    now_served = {restarted.cached(_planned_request(repo, r, m)).png_sha256 for r, m in recorded}
    assert now_served.isdisjoint({m.png_sha256 for _, m in recorded})  # the cache serves other maps now

    after = [{c: row[c] for c in columns} for row in response_rows(repo, engine.record)]
    assert after == before  # the export reads what was recorded when shown, not the cache


def _planned_request(repo, record, shown) -> MapRequest:
    """The request the page makes for a recorded map: the plan step's image and checkpoint, the map's method."""
    plan = Plan.from_json(json.loads(repo.plan_json(record.participant_id)))
    (step,) = [s for s in plan.trial_steps if (s.trial, s.phase) == (record.trial_index, record.phase)]
    (planned,) = [m for m in step.maps if m.column == shown.column]
    return _request(step, planned.shown())
