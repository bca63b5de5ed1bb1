"""The HIVE sequence (``[study] hive_sequence = true``): HIVE's understanding rating before the trials, after them
and after the reveal of the participant's own accuracy, which the engine counts from the stored answers; the
export's ratings and changes; the refusals; the German text; the simulator."""

from __future__ import annotations

import csv
import random

import pandas as pd
import pytest

from study.kit import answer_for, predictions_for, write_study
from study_app.analysis.instrument_scores import hive_summary
from study_app.export.export_cli import export_from_file
from study_app.i18n import translator
from study_app.simulate.behaviour import Behaviour
from study_app.simulate.simulate_cli import run_simulation
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, StudyFileError, load_study
from study_app.study.hive import QUESTION, reveal_text

HIVE_ON = "inactive_timeout_minutes = 30\nhive_sequence = true"


def hive_study(tmp_path, checkpoint_dir, stimuli_dir, protocol="verification", *, language="", tail="", sid=None):
    path = write_study(tmp_path, protocol, checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=6, tail=tail,
                       sid=sid or f"hive-{protocol}")
    text = path.read_text(encoding="utf-8").replace("inactive_timeout_minutes = 30", HIVE_ON + language)
    path.write_text(text, encoding="utf-8")
    return path


def _walk(engine, seed):
    token = engine.start_or_resume(None)
    step, seen = engine.current_step(token), []
    while step.kind != "done":
        seen.append(step)
        step = engine.submit(token, step.step_id, answer_for(step, random.Random(seed)))
    return token, seen


@pytest.mark.parametrize("protocol", ["verification", "decision", "forward_simulation"])
def test_the_reveal_counts_the_participants_own_right_trials(tmp_path, checkpoint_dir, stimuli_dir, clock, protocol):
    path = hive_study(tmp_path, checkpoint_dir, stimuli_dir, protocol)
    study = load_study(path)
    db = tmp_path / "r.sqlite"
    repo = Repository(make_engine(f"sqlite:///{db}"))
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    walks = [_walk(engine, seed) for seed in range(3)]
    repo.dispose()
    kinds = [s.kind for s in walks[0][1]]
    assert kinds.index("instructions") + 1 == kinds.index("hive_before")
    assert kinds.index("hive_before") + 1 == kinds.index("trial")
    trials_end = max(i for i, k in enumerate(kinds) if k == "trial")
    assert kinds[trials_end + 1:trials_end + 3] == ["hive_after", "hive_reveal"]
    for step in walks[0][1]:
        if step.kind.startswith("hive"):
            (q,) = step.questions
            assert (q.text, q.kind, q.low, q.high) == (QUESTION, "likert", 1, 5)
    result = export_from_file(path, tmp_path / "out" / "responses.csv", db_url=f"sqlite:///{db}")
    responses = list(csv.DictReader(result.responses_path.open(encoding="utf-8")))
    people = {r["participant"]: r for r in csv.DictReader(result.participants_path.open(encoding="utf-8"))}
    assert len(people) == 3
    for public_id, row in people.items():
        scored = [r["correct"] for r in responses if r["participant"] == public_id and r["correct"]
                  and r["is_attention_check"] == "false"]
        right = scored.count("true")
        assert (int(row["post_hive_revealed_correct"]), int(row["post_hive_revealed_trials"])) == (right, len(scored))
        before, after = int(row["pre_hive_understanding"]), int(row["post_hive_understanding"])
        revealed = int(row["post_hive_understanding_revealed"])
        assert int(row["hive_change_after_task"]) == after - before
        assert int(row["hive_change_after_reveal"]) == revealed - before
        assert int(row["hive_change_at_reveal"]) == revealed - after
    summary = hive_summary(pd.DataFrame(list(people.values()))).set_index("measure")
    changes = [int(r["post_hive_understanding_revealed"]) - int(r["pre_hive_understanding"]) for r in people.values()]
    assert summary.loc["hive_change_after_reveal", "n"] == 3
    assert summary.loc["hive_change_after_reveal", "mean"] == pytest.approx(sum(changes) / 3)
    assert summary.loc["understanding before", "n"] == 3
    shown = [s.text for _, seen in walks for s in seen if s.kind == "hive_reveal"]
    assert all(text.startswith("You were right on ") for text in shown)


def test_a_resumed_participant_reads_the_same_reveal(tmp_path, checkpoint_dir, stimuli_dir, clock):
    study = load_study(hive_study(tmp_path, checkpoint_dir, stimuli_dir))
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    while step.kind != "hive_reveal":
        step = engine.submit(token, step.step_id, answer_for(step, random.Random(4)))
    again = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock).current_step(token)
    assert again.step_id == "hive_reveal" and again.text == step.text and "You were right on" in step.text


def test_the_reveal_reads_in_german():
    de = translator("de")
    assert reveal_text(de, 7, 10) != reveal_text(translator("en"), 7, 10)
    german = reveal_text(de, 7, 10)
    assert "7" in german and "10" in german and "70\xa0%" in german and "richtig" in german
    assert reveal_text(translator("en"), 1, 1) == "You were right on 1 of 1 image (100%)."


def test_a_protocol_without_right_answers_is_refused(tmp_path, checkpoint_dir, stimuli_dir):
    with pytest.raises(StudyFileError) as caught:
        load_study(hive_study(tmp_path, checkpoint_dir, stimuli_dir, "rate"))
    assert caught.value.field == "study.hive_sequence" and "no right answer" in str(caught.value)


def test_a_questionnaire_id_hive_stores_under_is_refused(tmp_path, checkpoint_dir, stimuli_dir):
    tail = '\n[[post_questionnaire]]\nid = "hive_understanding"\ntext = "Mine"\nkind = "text"\n'
    with pytest.raises(StudyFileError) as caught:
        load_study(hive_study(tmp_path, checkpoint_dir, stimuli_dir, tail=tail, sid="hive-clash"))
    assert caught.value.field == "study.hive_sequence" and "hive_understanding" in str(caught.value)


def test_the_simulator_walks_a_hive_study(tmp_path, checkpoint_dir, stimuli_dir):
    path = hive_study(tmp_path, checkpoint_dir, stimuli_dir, sid="hive-sim")
    url = f"sqlite:///{tmp_path / 'sim.sqlite'}"
    summary = run_simulation(path, 4, Behaviour(seed=5, dropout=0.0), db=url, progress=lambda _: None)
    assert summary["outcome"].completed == 4
    repo = Repository(make_engine(url))
    assert set(repo.questionnaire_of(1, "post")) >= {"hive_understanding", "hive_understanding_revealed",
                                                      "hive_revealed_correct", "hive_revealed_trials"}
