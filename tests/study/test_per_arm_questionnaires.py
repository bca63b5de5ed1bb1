"""Per-arm questionnaires (``placement = "per_arm"``) and Hoffman et al.'s Trust Scale for XAI: the study file's
rules, the engine's blocks and stages, what is stored and exported per arm, the Analysis page's numbers, and
the simulator walking such a study."""

from __future__ import annotations

import csv
import json
import math
import random
import tomllib

import pandas as pd
import pytest

from study.kit import answer_for, predictions_for, write_study
from study_app.analysis.instrument_scores import instrument_summary, uses_in_study_file
from study_app.export.export_cli import export_from_file
from study_app.simulate.behaviour import Behaviour
from study_app.simulate.simulate_cli import run_simulation
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, StudyFileError, load_study
from study_app.study.arm_blocks import trial_arm
from study_app.study.instruments import INSTRUMENTS, PER_ARM, score_instrument
from study_app.study.plan import Plan

PER_ARM_TAIL = """
[[post_questionnaire]]
instrument = "hoffman_trust"
placement = "per_arm"

[[post_questionnaire]]
instrument = "sus"
"""
ARMS = ("gradcam", "integrated_gradients", "none")


def test_hoffman_trust_is_the_eight_items_with_wary_reversed():
    trust = INSTRUMENTS["hoffman_trust"]
    assert len(trust.items) == 8 and (trust.low, trust.high) == (1, 5)
    assert trust.reverse_keys == ("6",) and "wary" in trust.item("6").text
    assert PER_ARM in trust.placements
    assert "not validated" in trust.translations["de"] and "not checked" in trust.translations["en"]
    values = dict(zip(trust.keys, (5, 4, 4, 3, 5, 2, 4, 3), strict=True))
    hand = (5 + 4 + 4 + 3 + 5 + (6 - 2) + 4 + 3) / 8
    assert score_instrument("hoffman_trust", {f"hoffman_trust_{k}": v for k, v in values.items()})["trust"] == hand


def _walk(engine, rng, *, until=None):
    token = engine.start_or_resume(None)
    step, seen = engine.current_step(token), []
    while step.kind != "done" and step.kind != until:
        seen.append(step)
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    return token, seen, step


def _blocks(seen):
    """[(arm, [trial arms before its questionnaire])] in the order walked, attention checks left out."""
    out, current = [], []
    for step in seen:
        if step.kind == "trial" and not step.trial.is_attention_check and step.trial.phase != "initial":
            current.append("+".join(m.key for m in step.trial.methods) or "none")
        elif step.kind == "arm_questionnaire":
            out.append((step.step_id.removeprefix("arm_questionnaire:"), current))
            current = []
    return out


def test_within_trials_are_blocked_by_arm_with_the_questionnaire_after_each(tmp_path, checkpoint_dir, stimuli_dir,
                                                                           clock, repo):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, control=True,
                       trials=6, tail=PER_ARM_TAIL, sid="within-arms")
    study = load_study(path)
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    firsts = []
    for i in range(3):  # one participant per Latin-square row
        _, seen, _ = _walk(engine, random.Random(i))
        blocks = _blocks(seen)
        assert sorted(arm for arm, _ in blocks) == sorted(ARMS)
        for arm, trials in blocks:
            assert trials and set(trials) == {arm}  # a block is that arm's trials, and only they
        kinds = [s.kind for s in seen]
        assert kinds.index("post_questionnaire") > max(i for i, k in enumerate(kinds) if k == "arm_questionnaire")
        asked = next(s for s in seen if s.kind == "arm_questionnaire")
        assert [q.id for q in asked.questions] == [f"{blocks[0][0]}_hoffman_trust_{k}" for k in range(1, 9)]
        firsts.append(blocks[0][0])
    assert sorted(firsts) == sorted(ARMS)  # the block order rotates: each arm comes first in one row
    stored = repo.questionnaire_of(1, "arm")
    assert {k.split("_hoffman_trust_")[0] for k in stored} == set(ARMS) and len(stored) == 24


def test_between_asks_once_after_the_trials_and_a_resumed_participant_gets_the_same_step(
        tmp_path, checkpoint_dir, stimuli_dir, clock):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, design="between",
                       tail=PER_ARM_TAIL, sid="between-arms")
    study = load_study(path)
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    token, seen, step = _walk(engine, random.Random(0), until="arm_questionnaire")
    assert step.step_id == "arm_questionnaire:gradcam" and seen[-1].kind == "trial"
    restarted = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)  # a new server process
    again = restarted.current_step(token)
    assert again.step_id == step.step_id and again.questions == step.questions
    assert restarted.submit(token, seen[-1].step_id, {}).step_id == step.step_id  # a stale tab changes nothing
    after = restarted.submit(token, step.step_id, answer_for(step, random.Random(1)))
    assert after.kind == "post_questionnaire"


def test_the_export_scores_each_arm_and_the_analysis_gives_means_and_alpha_per_arm(tmp_path, checkpoint_dir,
                                                                                   stimuli_dir, clock):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, control=True,
                       trials=6, tail=PER_ARM_TAIL, sid="export-arms")
    study = load_study(path)
    db = tmp_path / "r.sqlite"
    repo = Repository(make_engine(f"sqlite:///{db}"))
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    for i in range(6):
        _walk(engine, random.Random(10 + i))
    repo.dispose()
    result = export_from_file(path, tmp_path / "out" / "responses.csv", db_url=f"sqlite:///{db}")
    rows = list(csv.DictReader(result.participants_path.open(encoding="utf-8")))
    assert len(rows) == 6
    for row in rows:
        for arm in ARMS:
            items = {f"hoffman_trust_{k}": int(row[f"arm_{arm}_hoffman_trust_{k}"]) for k in range(1, 9)}
            assert math.isclose(float(row[f"arm_{arm}_hoffman_trust_trust"]),
                                score_instrument("hoffman_trust", items)["trust"])
        assert row["post_sus_sus"]  # the after-trials instrument beside it, as before
    uses = uses_in_study_file(tomllib.loads(path.read_text(encoding="utf-8")))
    summary = instrument_summary(pd.DataFrame(rows), uses, between=False)
    per_arm = summary.per_arm.set_index("arm")
    assert set(per_arm.index) == set(ARMS) and (per_arm["n"] == 6).all()
    for arm in ARMS:
        values = [float(r[f"arm_{arm}_hoffman_trust_trust"]) for r in rows]
        assert math.isclose(per_arm.loc[arm, "mean"], sum(values) / 6)
        assert per_arm.loc[arm, "ci_low"] < per_arm.loc[arm, "mean"] < per_arm.loc[arm, "ci_high"]
    alpha_rows = set(summary.consistency["score"])
    assert {f"arm_{arm}_hoffman_trust_trust" for arm in ARMS} <= alpha_rows and "post_sus_sus" in alpha_rows


def test_the_simulator_walks_a_per_arm_study(tmp_path, checkpoint_dir, stimuli_dir):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, control=True,
                       tail=PER_ARM_TAIL, sid="simulate-arms")
    url = f"sqlite:///{tmp_path / 'sim.sqlite'}"
    summary = run_simulation(path, 6, Behaviour(seed=3, dropout=0.0), db=url, progress=lambda _: None)
    assert summary["outcome"].completed == 6 and summary["outcome"].dropped_out == 0
    repo = Repository(make_engine(url))
    assert len(repo.questionnaire_of(1, "arm")) == 8 * len(ARMS)


def test_decision_trials_are_blocked_by_their_advice_arm(tmp_path, checkpoint_dir, stimuli_dir, clock):
    path = write_study(tmp_path, "decision", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=8,
                       tail=PER_ARM_TAIL, sid="decision-arms")
    study = load_study(path)
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    _, seen, _ = _walk(engine, random.Random(0))
    plan_arms = []  # the advice arm of each answered trial, in order, with the questionnaires between
    plan = Plan.from_json(json.loads(repo.plan_json(1)))
    by_id = {s.step_id: s for s in plan.trial_steps}
    for step in seen:
        if step.kind == "trial" and not step.trial.is_attention_check:
            plan_arms.append(trial_arm(by_id[step.step_id]))
        elif step.kind == "arm_questionnaire":
            plan_arms.append(step.step_id)
    asked = [a.removeprefix("arm_questionnaire:") for a in plan_arms if a.startswith("arm_questionnaire:")]
    assert sorted(asked) == sorted(("human", "ai", "gradcam", "placebo"))
    for arm in asked:  # every trial of the arm comes before its questionnaire and after the previous one
        at = plan_arms.index(f"arm_questionnaire:{arm}")
        before = [a for a in plan_arms[:at] if not a.startswith("arm_questionnaire:")]
        assert arm in before and arm not in plan_arms[at + 1:]


@pytest.mark.parametrize(("change", "field", "words"), [
    ({"section": "pre_questionnaire"}, "pre_questionnaire[0].placement", "post_questionnaire"),
    ({"display": "side_by_side", "protocol": "rate"}, "tasks[0].display", "side_by_side"),
    ({"tasks": 2}, "post_questionnaire[0].placement", "single task"),
    ({"id_prefix": "x" * 52}, "post_questionnaire[0].placement", "shorter id_prefix"),
])
def test_a_per_arm_entry_the_design_cannot_ask_names_its_field(tmp_path, checkpoint_dir, stimuli_dir, change,
                                                               field, words):
    section = change.get("section", "post_questionnaire")
    prefix = f'id_prefix = "{change["id_prefix"]}"\n' if "id_prefix" in change else ""
    tail = f'\n[[{section}]]\ninstrument = "hoffman_trust"\nplacement = "per_arm"\n{prefix}'
    protocol = change.get("protocol", "verification")
    extra = 'display = "side_by_side"' if "display" in change else ""
    tasks = None
    if change.get("tasks") == 2:
        task = ('\n[[tasks]]\nname = "{n}"\nprotocol = "verification"\ncheckpoint = "' + checkpoint_dir.as_posix()
                + '"\nstimuli = "' + stimuli_dir.as_posix() + '"\ntrials = 2\nattention_checks = 0\n')
        tasks = task.format(n="one") + task.format(n="two")
    path = write_study(tmp_path, protocol, checkpoint=checkpoint_dir, stimuli=stimuli_dir, tail=tail, extra=extra,
                       tasks=tasks, sid="bad-arms")
    with pytest.raises(StudyFileError) as caught:
        load_study(path)
    assert field in str(caught.value) and words in str(caught.value)


def test_the_longest_item_id_the_parser_allows_is_stored_on_every_database(tmp_path, checkpoint_dir, stimuli_dir,
                                                                           clock, repo):
    prefix = "p" * (64 - len("integrated_gradients_") - len("_1"))  # the longest arm's ids are exactly 64 long
    tail = f'\n[[post_questionnaire]]\ninstrument = "hoffman_trust"\nplacement = "per_arm"\nid_prefix = "{prefix}"\n'
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, design="between",
                       tail=tail, sid="long-ids")
    study = load_study(path)
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    for i in range(2):  # the second participant gets integrated_gradients
        _walk(engine, random.Random(i))
    stored = repo.questionnaire_of(2, "arm")
    assert len(stored) == 8 and max(len(k) for k in stored) == 64
