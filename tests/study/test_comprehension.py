"""Comprehension questions under the instructions: parsed with their right option, checked by ``xai-study
check``, counted as failed checks together with attention checks (screen-out), retried when the study
allows it, and exported. On SQLite and PostgreSQL where the engine is involved."""

from __future__ import annotations

import dataclasses
import tomllib

import pytest

from study.kit import answer_for, asked_decision, write_study
from study_app.study import AnswerError, StudyFileError
from study_app.study.parser import parse_study
from study_app.study.quality import QualityRules
from study_app.study.steps import INSTRUCTIONS, SCREENED_OUT

RIGHT_MAPS, RIGHT_TASK = "What the model relied on", "Whether the prediction is right"
COMPREHENSION = f"""
[[comprehension]]
id = "maps"
text = "What do the highlighted regions show?"
options = ["{RIGHT_MAPS}", "Where the animal is"]
correct = "{RIGHT_MAPS}"

[[comprehension]]
id = "task"
text = "What will you decide on each trial?"
kind = "choice"
options = ["{RIGHT_TASK}", "Which animal I like"]
correct = "{RIGHT_TASK}"
"""
WRONG_BOTH = {"maps": "Where the animal is", "task": "Which animal I like"}
WRONG_ONE = {"maps": "Where the animal is", "task": RIGHT_TASK}
RIGHT = {"maps": RIGHT_MAPS, "task": RIGHT_TASK}


@pytest.fixture
def data(tmp_path, checkpoint_dir, stimuli_dir) -> dict:
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, tail=COMPREHENSION)
    return tomllib.loads(path.read_text())


def _study(make_study, **settings):
    """A verification study with the two comprehension questions and the given ``[study]`` settings."""
    return dataclasses.replace(make_study("verification", trials=4, checks=2, tail=COMPREHENSION), **settings)


def _failing(step) -> dict:
    """An answer that fails the trial's attention check (the opposite of the instruction)."""
    answer = answer_for(step)
    if step.trial.is_attention_check:
        answer["decision"] = "reject" if asked_decision(step.trial.attention_prompt) == "accept" else "accept"
    return answer


def _to_instructions(engine):
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    while step.kind != INSTRUCTIONS:
        step = engine.submit(token, step.step_id, answer_for(step))
    return token, step


def _events(repo, engine, kind):
    return [e for e in repo.events(engine.record.id) if e.kind == kind]


def test_comprehension_questions_are_parsed_with_their_right_option(data):
    study = parse_study(data, "s.toml")
    assert [(q.id, q.kind, q.correct) for q in study.comprehension] == [("maps", "choice", RIGHT_MAPS),
                                                                         ("task", "choice", RIGHT_TASK)]
    assert study.comprehension_retries == 0
    assert parse_study({**data, "comprehension": []}, "s.toml").comprehension == ()


@pytest.mark.parametrize(
    "mutate,field,words",
    [
        (lambda d: d["comprehension"][0].update(correct="Nowhere"), "comprehension[0].correct", "not one of the options"),
        (lambda d: d["comprehension"][1].pop("correct"), "comprehension[1].correct", "required"),
        (lambda d: d["comprehension"][0].update(kind="likert"), "comprehension[0].kind", "choice"),
        (lambda d: d["comprehension"][0].update(required=False), "comprehension[0].required", "must be answered"),
        (lambda d: d["comprehension"][0].update(id="comment"), "comprehension[0].id", "comment"),
        (lambda d: d["comprehension"][1].update(id="maps"), "comprehension[1].id", "duplicate"),
        (lambda d: d.update(pre_questionnaire=[{**d["comprehension"][0], "id": "p", "kind": "choice"}]), "pre_questionnaire[0].correct",
         "only applies to [[comprehension]]"),
        (lambda d: d["study"].update(comprehension_retries=4), "study.comprehension_retries", "0, 1, 2 or 3"),
        (lambda d: (d.pop("comprehension"), d["study"].update(comprehension_retries=1)),
         "study.comprehension_retries", "needs [[comprehension]]"),
    ],
)
def test_comprehension_errors_name_the_field(data, mutate, field, words):
    mutate(data)
    with pytest.raises(StudyFileError) as err:
        parse_study(data, "s.toml")
    assert err.value.field == field and words in str(err.value), str(err.value)


def test_check_rejects_a_right_answer_that_is_not_an_option(tmp_path, checkpoint_dir, stimuli_dir, monkeypatch,
                                                             capsys):
    from study_app.cli import main

    bad = COMPREHENSION.replace(f'correct = "{RIGHT_TASK}"', 'correct = "Whatever"')
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, tail=bad)
    monkeypatch.chdir(tmp_path)
    assert main(["check", "--study", str(path)]) != 0
    out = capsys.readouterr()
    assert "comprehension[1].correct" in out.out + out.err and "'Whatever' is not one of the options" in out.out + out.err


def test_the_instructions_step_asks_the_questions_and_refuses_malformed_answers(make_study, make_engine_for, repo):
    engine = make_engine_for(_study(make_study), repo)
    token, step = _to_instructions(engine)
    assert [q.id for q in step.questions] == ["maps", "task"]
    for bad, field in (({"maps": RIGHT_MAPS}, "task"), ({**RIGHT, "task": "Maybe"}, "task"),
                       ({**RIGHT, "extra": "x"}, "extra")):
        with pytest.raises(AnswerError) as err:
            engine.submit(token, step.step_id, bad)
        assert err.value.field == field
    assert engine.current_step(token).kind == INSTRUCTIONS  # nothing stored, no move
    assert engine.submit(token, step.step_id, {**RIGHT, "comment": "clear"}).kind == "trial"
    stored = [q for q in repo.questionnaire_answers(engine.record.id) if q.questionnaire == "comprehension"]
    assert {q.question_id: q.answer for q in stored} == RIGHT


def test_wrong_comprehension_answers_and_failed_attention_checks_count_together(make_study, make_engine_for,
                                                                                repo):
    engine = make_engine_for(_study(make_study, screen_out_after=2), repo)
    token, step = _to_instructions(engine)
    step = engine.submit(token, step.step_id, WRONG_ONE)  # one failed check: the study goes on
    assert step.kind == "trial"
    checks = 0
    while step.kind == "trial":
        checks += step.trial.is_attention_check
        step = engine.submit(token, step.step_id, _failing(step))
    assert step.kind == SCREENED_OUT and checks == 1  # ended at the first failed attention check
    participant = repo.participant_by_token(token)
    assert participant.status == SCREENED_OUT and engine.current_step(token).kind == SCREENED_OUT
    assert sum(engine.condition_counts().values()) == 0  # the slot is back in the pool
    (event,) = _events(repo, engine, "screen_out")
    assert event.detail == {"rule": "screen_out_after", "failed_attention_checks": 1, "failed_comprehension": 1}


def test_enough_wrong_comprehension_answers_end_the_study_at_the_instructions(make_study, make_engine_for, repo):
    engine = make_engine_for(_study(make_study, screen_out_after=2), repo)
    token, step = _to_instructions(engine)
    assert engine.submit(token, step.step_id, WRONG_BOTH).kind == SCREENED_OUT
    assert engine.current_step(token).kind == SCREENED_OUT and repo.participant_by_token(token).completed_at
    assert sum(engine.condition_counts().values()) == 0
    stored = {q.question_id: q.answer for q in repo.questionnaire_answers(engine.record.id)
              if q.questionnaire == "comprehension"}
    assert stored == WRONG_BOTH  # the answers stay for the researcher
    assert repo.shown_trials(engine.record.id) == []  # no trial was shown, so none is recorded as shown
    assert _events(repo, engine, "screen_out")[0].detail["failed_comprehension"] == 2


def test_a_retry_shows_the_instructions_again_and_only_the_last_answers_count(make_study, make_engine_for, repo):
    engine = make_engine_for(_study(make_study, screen_out_after=2, comprehension_retries=1), repo)
    token, step = _to_instructions(engine)
    again = engine.submit(token, step.step_id, WRONG_BOTH)
    assert again.kind == INSTRUCTIONS and again.step_id == step.step_id and again.retry
    assert engine.current_step(token).kind == INSTRUCTIONS  # a reload shows the instructions too
    assert not [q for q in repo.questionnaire_answers(engine.record.id)
                if q.questionnaire == "comprehension"]  # the failed try is not an answer
    (retry,) = _events(repo, engine, "comprehension_retry")
    assert retry.detail == {"attempt": 1, "wrong": ["maps", "task"], "answers": WRONG_BOTH}
    assert engine.submit(token, step.step_id, RIGHT).kind == "trial"  # right the second time: nothing failed
    assert repo.participant_by_token(token).status == "active"

    other, step = _to_instructions(engine)
    assert engine.submit(other, step.step_id, WRONG_ONE).retry
    assert engine.submit(other, step.step_id, WRONG_BOTH).kind == SCREENED_OUT  # no retry left: both count


def test_without_the_rule_wrong_answers_are_exported_and_flagged(make_study, make_engine_for, repo):
    from study_app.export import PARTICIPANT_COLUMNS, participant_rows

    study = _study(make_study)
    engine = make_engine_for(study, repo)
    for answer in (WRONG_ONE, RIGHT):
        token, step = _to_instructions(engine)
        step = engine.submit(token, step.step_id, answer)
        while step.kind == "trial":
            step = engine.submit(token, step.step_id, _failing(step))
        assert step.kind != SCREENED_OUT
    assert {"failed_attention_checks", "failed_comprehension", "failed_checks"} <= set(PARTICIPANT_COLUMNS)
    wrong, right = participant_rows(repo, engine.record, rules=QualityRules.of(study))
    assert wrong["comprehension_maps"] == "Where the animal is" and right["comprehension_maps"] == RIGHT_MAPS
    assert (wrong["failed_attention_checks"], wrong["failed_comprehension"], wrong["failed_checks"]) == (2, 1, 3)
    assert (right["failed_attention_checks"], right["failed_comprehension"], right["failed_checks"]) == (2, 0, 2)
    assert "comprehension" in wrong["quality_flags"].split() and "comprehension" not in right["quality_flags"]
