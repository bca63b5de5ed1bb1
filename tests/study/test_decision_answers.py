"""What a decision trial's steps carry for the answer form: the first answer on a two-step trial's final phase
(read back from the database, so a reload or another server shows it too), and the human arm's one answer asked
as the participant's answer, stored as ``final`` (the export's ``answer_final``)."""

from __future__ import annotations

import random

from study.kit import answer_for
from study.test_decision import decision_extra
from study_app.study.protocols import protocol_of
from study_app.study.steps import DECISION, PHASE_FINAL, PHASE_INITIAL


def _to_first_trial(engine):
    token = engine.start_or_resume(None)
    step = engine.submit(token, "consent", {"agree": True})
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step))
    return token, step


def test_final_phase_carries_the_first_answer_and_the_human_arm_asks_once(make_study, make_engine_for, repo, clock):
    study = make_study("decision", trials=8, checks=1, extra=decision_extra())
    engine = make_engine_for(study, repo)
    token, step = _to_first_trial(engine)
    rng = random.Random(3)
    firsts = sole = 0
    while step.kind == "trial":
        trial = step.trial
        if trial.phase == PHASE_INITIAL:
            assert not trial.sole_answer and trial.first_answer is None
            given = {PHASE_INITIAL: rng.choice(trial.options), "confidence_initial": rng.randint(1, 5)}
            step = engine.submit(token, step.step_id, given)
            assert step.trial.index == trial.index and step.trial.phase == PHASE_FINAL
            assert (step.trial.first_answer, step.trial.first_confidence) == (given[PHASE_INITIAL],
                                                                              given["confidence_initial"])
            assert not step.trial.sole_answer and step.trial.prompt == protocol_of(DECISION).prompts[PHASE_FINAL]
            again = engine.current_step(token)  # a reload: read back from the database
            assert again.trial.first_answer == given[PHASE_INITIAL]
            firsts += 1
        else:  # the human arm and the attention check: one answer, no advice, not called "final"
            assert trial.sole_answer and trial.first_answer is None and trial.prediction is None
            assert "final" not in trial.prompt and trial.prompt == protocol_of(DECISION).prompts[PHASE_INITIAL]
            sole += 1
            step = engine.submit(token, step.step_id, answer_for(step, rng))
            continue
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    assert firsts == 6 and sole == 3  # 8 trials over 4 arms: 2 human; and 1 attention check
    stored = list(engine.repository.responses(engine.record.id))
    by_trial: dict[int, list[str]] = {}
    for r in stored:
        by_trial.setdefault(r.trial_index, []).append(r.phase)
    assert sorted(map(tuple, by_trial.values())) == [("final",)] * 3 + [("initial", "final")] * 6


def test_one_step_trials_are_all_sole_answers(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("decision", trials=4, checks=0, extra=decision_extra(variant="one_step"))
    engine = make_engine_for(study, sqlite_repo)
    token, step = _to_first_trial(engine)
    seen = []
    while step.kind == "trial":
        seen.append(step.trial)
        step = engine.submit(token, step.step_id, answer_for(step))
    assert len(seen) == 4 and all(t.sole_answer and t.first_answer is None for t in seen)
    assert sum(t.prediction is not None for t in seen) == 3  # the advice, asked as one answer

