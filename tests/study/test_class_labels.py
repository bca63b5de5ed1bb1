"""The study file names each class as participants read it (``[[tasks]] class_labels``), in the study's language.

Answers, measures and the export's class columns keep the model's class names; what the participant is shown
(options, prediction, attention prompts) and the export's ``*_display`` columns use the labels. The
attention check quotes the options as the participant sees them (it asked for 'accept' under radio buttons
reading "Yes, the prediction is correct")."""

from __future__ import annotations

import json
import random

import pytest

from study.kit import DECISION_EXTRA, answer_for, predictions_for, quotes, write_study
from study_app.export import response_rows
from study_app.i18n import translator
from study_app.study import load_study
from study_app.study.design import build_plan, select_items
from study_app.study.errors import StudyFileError
from study_app.study.plan import PLAN_VERSION, Plan
from study_app.study.steps import DECISION_LABELS

GERMAN = 'class_labels = { cat = "Katze", dog = "Hund" }'


def _study(tmp_path, checkpoint_dir, stimuli_dir, protocol="distinction", labels=GERMAN, **options):
    extra = {"forward_simulation": "learning_trials = 2", "distinction": "k = 2"}.get(protocol, "")
    path = write_study(tmp_path / "s", protocol, checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                       extra=f"{extra}\n{labels}", **options)
    return path


def test_labels_are_read_and_every_class_must_be_named(tmp_path, checkpoint_dir, stimuli_dir):
    study = load_study(_study(tmp_path, checkpoint_dir, stimuli_dir), check_images=False)
    assert study.tasks[0].class_labels == {"cat": "Katze", "dog": "Hund"}
    assert study.tasks[0].class_label("dog") == "Hund"
    cases = {
        'class_labels = { cat = "Katze", dgo = "Hund" }': "'dgo' not a class of the checkpoint (cat, dog)",
        'class_labels = { cat = "Katze" }': "names no label for 'dog'",
        'class_labels = { cat = "Tier", dog = "Tier" }': "participants could not tell them apart",
        'class_labels = { cat = "Katze", dog = 3 }': "'dog': must be non-empty text",
        'class_labels = "Katze"': "must be a table",
    }
    for i, (line, message) in enumerate(cases.items()):
        path = _study(tmp_path / str(i), checkpoint_dir, stimuli_dir, labels=line)
        with pytest.raises(StudyFileError) as err:
            load_study(path, check_images=False)
        assert "tasks[0].class_labels" in str(err.value) and message in str(err.value), str(err.value)


@pytest.mark.parametrize("protocol", ["distinction", "forward_simulation", "decision"])
def test_participants_read_the_labels_and_answers_stay_class_names(tmp_path, checkpoint_dir, stimuli_dir, protocol,
                                                                   make_engine_for, sqlite_repo):
    if protocol == "decision":
        path = write_study(tmp_path / "d", "decision", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=4,
                           checks=1, extra=DECISION_EXTRA + "\n" + GERMAN)
    else:
        path = _study(tmp_path, checkpoint_dir, stimuli_dir, protocol, checks=1)
    study = load_study(path, check_images=False)
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume(None)
    step, rng, checks = engine.current_step(token), random.Random(3), 0
    while step.kind != "done":
        if step.kind == "trial" and step.trial.options:
            trial = step.trial
            assert set(trial.options) <= {"cat", "dog"}, "options stay class names (the stored answer)"
            assert {trial.class_label(o) for o in trial.options} <= {"Katze", "Hund"}
            if trial.is_attention_check:
                checks += 1
                assert quotes(trial.attention_prompt) in ("Katze", "Hund"), trial.attention_prompt
                assert "'cat'" not in trial.attention_prompt and "'dog'" not in trial.attention_prompt
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    assert checks == 1
    rows = response_rows(sqlite_repo, engine.record)
    answered = [r for r in rows if any(k in r for k in ("answer_choice", "answer_final"))]
    assert answered
    for row in answered:
        key = "answer_choice" if "answer_choice" in row else "answer_final"
        assert row[key] in ("cat", "dog") and row[f"{key}_display"] == {"cat": "Katze", "dog": "Hund"}[row[key]]
        assert row["true_label"] in ("cat", "dog")
        assert row["true_label_display"] == {"cat": "Katze", "dog": "Hund"}[row["true_label"]]
        assert row["predicted_label_display"] == {"cat": "Katze", "dog": "Hund"}[row["predicted_label"]]
        if row["options"]:
            assert [{"Katze": "cat", "Hund": "dog"}[o] for o in row["options_display"]] == row["options"]
    assert all(r["attention_passed"] for r in rows if r["is_attention_check"]), "the kit read the quoted label"


def test_the_plan_keeps_the_labels_and_older_plans_read_without_them(tmp_path, checkpoint_dir, stimuli_dir):
    study = load_study(_study(tmp_path, checkpoint_dir, stimuli_dir), check_images=False)
    preds = predictions_for(study)
    plan = build_plan(study, select_items(study, preds), preds, 0, 5)
    assert plan.version == PLAN_VERSION == 4
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan and again.class_label("pets", "cat") == "Katze"
    old = plan.to_json()
    old["version"] = 3
    old.pop("class_labels")
    read = Plan.from_json(old)
    assert read.class_labels == {} and read.class_label("pets", "cat") == "cat"


@pytest.mark.parametrize("language", ["en", "de"])
def test_the_verification_check_quotes_the_radio_buttons_label(tmp_path, checkpoint_dir, stimuli_dir, language):
    path = write_study(tmp_path / "v", "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, checks=3)
    path.write_text(path.read_text().replace("[study]\n", f'[study]\nlanguage = "{language}"\n', 1))
    study = load_study(path, check_images=False)
    preds = predictions_for(study)
    t = translator(language)
    for seed in range(4):
        plan = build_plan(study, select_items(study, preds), preds, 0, seed)
        for s in plan.trial_steps:
            if s.is_attention_check:
                shown = t.gettext(DECISION_LABELS[s.expected["decision"]])
                assert quotes(s.attention_prompt) == shown, s.attention_prompt
                assert s.expected["decision"] not in s.attention_prompt
