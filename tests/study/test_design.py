"""Assignment, item selection, Latin-square balance and plan reproducibility."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from study.kit import answer_for, run_participant
from study_app.study.design import assign_condition, build_plan, select_items
from study_app.study.protocols.base import latin_square_arm


@pytest.mark.parametrize("n_arms,n_items", [(2, 4), (3, 6), (4, 8), (3, 7)])
def test_latin_square_is_balanced(n_arms, n_items):
    arms = [f"m{i}" for i in range(n_arms)]
    per_item = Counter()
    for row in range(n_arms):
        in_row = Counter(latin_square_arm(arms, row, j) for j in range(n_items))
        assert max(in_row.values()) - min(in_row.values()) <= 1  # a participant sees methods equally often
        assert len(in_row) == n_arms
        for j in range(n_items):
            per_item[(j, latin_square_arm(arms, row, j))] += 1
    # over one full square every item meets every method exactly once
    assert set(per_item.values()) == {1}
    assert len(per_item) == n_arms * n_items


def test_assign_condition_fills_the_least_filled_first():
    assert assign_condition({}, 3) == 0
    assert assign_condition({0: 1}, 3) == 1
    assert assign_condition({0: 1, 1: 1}, 3) == 2
    assert assign_condition({0: 2, 1: 1, 2: 2}, 3) == 1
    assert assign_condition({0: 5, 1: 5, 2: 5}, 3) == 0


def test_engine_latin_square_balances_methods_over_images(make_study, make_engine_for, sqlite_repo):
    """Within design, 4 arms (2 methods, negative control, no-explanation control), 8 images, 8 people:
    every image is shown with every arm exactly twice and every person sees every arm twice."""
    study = make_study("verification", trials=8, checks=0, control=True, negative="gradcam")
    assert study.arms == ("gradcam", "integrated_gradients", "gradcam@random", "none")
    engine = make_engine_for(study, sqlite_repo)
    per_image_arm = Counter()
    conditions = []
    for i in range(8):
        token, steps = run_participant(engine, random.Random(i))
        conditions.append(sqlite_repo.participant_by_token(token).condition)
        trials = [s.trial for s in steps if s.kind == "trial"]
        arms = [t.methods[0].key if t.methods else "none" for t in trials]
        assert Counter(arms) == dict.fromkeys(study.arms, 2)
        for t, arm in zip(trials, arms, strict=True):
            per_image_arm[(t.image_id, arm)] += 1
            if arm == "gradcam@random":
                assert t.methods[0].randomized_model and t.methods[0].name == "gradcam"
    assert conditions == [0, 1, 2, 3, 0, 1, 2, 3]
    assert len({img for img, _ in per_image_arm}) == 8
    assert set(per_image_arm.values()) == {2}
    assert len(per_image_arm) == 8 * 4


def test_side_by_side_rotates_method_positions(make_study, make_engine_for, sqlite_repo):
    study = make_study("rate", trials=2, checks=0, extra='display = "side_by_side"')
    engine = make_engine_for(study, sqlite_repo)
    orders = []
    for i in range(2):
        _, steps = run_participant(engine, random.Random(i))
        expl = [s.trial for s in steps if s.kind == "trial" and s.trial.phase == "explanation"]
        orders.append({tuple(m.key for m in t.methods) for t in expl})
        post = [s for s in steps if s.kind == "post_questionnaire"][0]
        assert [q.id for q in post.questions] == ["method_rank", "trust_gradcam", "trust_integrated_gradients"]
    assert orders == [{("gradcam", "integrated_gradients")}, {("integrated_gradients", "gradcam")}]


def test_item_selection_balances_model_correctness_and_is_shared(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification", trials=8, checks=0)
    engine = make_engine_for(study, sqlite_repo)
    preds = engine.predictions["pets"].by_image
    chosen = engine.items["pets"]["test"]
    n_wrong_available = sum(not p.correct for p in preds.values())
    n_right_available = len(preds) - n_wrong_available
    wrong = sum(not preds[i].correct for i in chosen)
    assert wrong == min(4, n_wrong_available) or (8 - wrong) == min(4, n_right_available)
    assert select_items(study, engine.predictions) == engine.items  # same for everyone, every restart
    # a different participant gets the same images in a different order
    _, a = run_participant(engine, random.Random(1))
    _, b = run_participant(engine, random.Random(2))
    ids_a = [s.trial.image_id for s in a if s.kind == "trial"]
    ids_b = [s.trial.image_id for s in b if s.kind == "trial"]
    assert sorted(ids_a) == sorted(ids_b) == sorted(chosen)


def test_plan_is_reproducible_from_the_stored_seed(make_study, make_engine_for, sqlite_repo):
    import json

    study = make_study("distinction", trials=6, checks=2)
    engine = make_engine_for(study, sqlite_repo)
    token, _ = run_participant(engine)
    p = sqlite_repo.participant_by_token(token)
    stored = json.loads(sqlite_repo.plan_json(p.id))
    rebuilt = build_plan(study, engine.items, engine.predictions, p.condition, p.seed)
    assert json.loads(json.dumps(rebuilt.to_json())) == stored
    other = build_plan(study, engine.items, engine.predictions, p.condition, p.seed + 1)
    assert [s.image_id for s in other.trial_steps] != [s.image_id for s in rebuilt.trial_steps]


def test_attention_checks_are_never_first_and_can_be_failed(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification", trials=4, checks=2)
    engine = make_engine_for(study, sqlite_repo)
    for seed in range(6):
        token = engine.start_or_resume()
        step = engine.current_step(token)
        trials = []
        while step.kind != "done":
            if step.kind == "trial":
                trials.append(step.trial)
            step = engine.submit(token, step.step_id, answer_for(step, random.Random(seed), pass_checks=False))
        assert not trials[0].is_attention_check
        assert sum(t.is_attention_check for t in trials) == 2
        assert all("Attention check" in t.attention_prompt for t in trials if t.is_attention_check)
    checks = [r for r in sqlite_repo.responses(engine.record.id) if r.is_attention_check]
    assert len(checks) == 12
    assert all(r.correct is None for r in checks)
    # random answers fail about half of them; all passing would mean the check is not checking
    assert 0 < sum(bool(r.attention_passed) for r in checks) < 12
