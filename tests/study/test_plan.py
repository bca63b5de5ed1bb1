"""The typed, versioned plan: JSON round trip, plans stored by the first release, and cache keys that match
the map service's."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from sqlalchemy import update

from study.kit import answer_for
from study_app.maps.service import MapRequest, make_map_service
from study_app.store.records import canonical_json
from study_app.store.schema import AssignmentRow
from study_app.study.design import build_plan
from study_app.study.plan import PLAN_VERSION, Plan, PlanFormatError

V1_PLANS = json.loads((Path(__file__).with_name("data") / "plans_v1.json").read_text())  # made by release 1


@pytest.mark.parametrize("protocol", sorted(V1_PLANS))
def test_a_plan_stored_by_the_first_release_loads(protocol):
    raw = V1_PLANS[protocol]
    plan = Plan.from_json(raw, class_names=lambda task: ("cat", "dog"))
    assert raw["version"] == 1 and plan.version == PLAN_VERSION
    assert plan.n_trials == raw["n_trials"] and plan.condition_label == raw["condition_label"]
    assert [s.step_id for s in plan.trial_steps] == [f"trial:{s['trial']}/{s['phase']}" for s in raw["trial_steps"]]
    for step, old in zip(plan.trial_steps, raw["trial_steps"], strict=True):
        assert step.model.correct == old["model"]["correct"] and step.image_sha256 == old["image_sha256"]
        assert [m.key for m in step.maps] == [m["key"] for m in old["methods"]]
        assert step.target_label == old["model"]["label"]
        assert step.target_index == ("cat", "dog").index(old["model"]["label"])
        for m, o in zip(step.maps, old["methods"], strict=True):
            assert m.cache_key is None  # release 1 did not know it; the map service computes it
            assert m.target_index == ("cat", "dog").index(o["target"] or old["model"]["label"])
        if old["prediction"] is not None:
            assert step.prediction.topk == tuple((label, p) for label, p in old["prediction"]["topk"])
    # Without class names the indices stay unknown rather than guessed.
    assert all(s.target_index is None for s in Plan.from_json(raw).trial_steps)


def test_unknown_versions_and_broken_plans_are_refused():
    with pytest.raises(PlanFormatError, match="version 99"):
        Plan.from_json({**V1_PLANS["rate"], "version": 99})
    with pytest.raises(PlanFormatError, match="malformed"):
        Plan.from_json({"version": PLAN_VERSION, "trial_steps": [{"trial": 0}]})


def test_a_participant_enrolled_under_the_first_release_finishes_under_this_one(make_study, make_engine_for,
                                                                               sqlite_repo):
    """The database row holds a release-1 plan: the engine serves, scores and stores its trials."""
    study = make_study("verification", trials=2, checks=1)
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume()
    engine.submit(token, "consent", {"agree": True})
    participant = sqlite_repo.participant_by_token(token)
    with sqlite_repo._sessions.begin() as session:
        session.execute(update(AssignmentRow).where(AssignmentRow.participant_id == participant.id)
                        .values(plan_json=canonical_json(V1_PLANS["verification"])))
    restarted = make_engine_for(study, sqlite_repo)  # a new process: no cached plan
    step, trials = restarted.current_step(token), []
    while step.kind != "done":
        trials += [step.trial] if step.kind == "trial" else []
        step = restarted.submit(token, step.step_id, answer_for(step, random.Random(2)))
    assert [t.image_id for t in trials] == [s["image_id"] for s in V1_PLANS["verification"]["trial_steps"]]
    assert all(m.target_index is not None for t in trials for m in t.methods)
    assert len(list(sqlite_repo.responses(restarted.record.id))) == len(trials) == 3


@pytest.mark.parametrize("protocol", ["distinction", "rate"])
def test_plan_round_trips_and_names_the_cache_key_the_map_service_serves(protocol, make_study, make_engine_for,
                                                                         sqlite_repo, tmp_path):
    study = make_study(protocol, trials=3, checks=1, negative="gradcam")
    engine = make_engine_for(study, sqlite_repo)
    plan = build_plan(study, engine.items, engine.predictions, condition=1, seed=99)
    assert Plan.from_json(json.loads(canonical_json(plan.to_json()))) == plan
    service = make_map_service(tmp_path)
    maps = [(s, m) for s in plan.trial_steps for m in s.maps]
    assert maps and any(m.randomized_model for _, m in maps)
    if protocol == "distinction":
        assert any(m.target is not None and m.target_index != s.target_index for s, m in maps)
    for step, m in maps:
        assert m.cache_key == service.key(MapRequest.of(step.checkpoint, step.image_path, m.shown()))
        names = engine.predictions[step.task].class_names
        assert names[m.target_index] == (m.target or step.model.label)
