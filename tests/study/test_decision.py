"""The decision protocol: its study-file fields, trials drawn by the model's correctness, the plan, the
engine's flow for each variant (advice on request included) and what the export says."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from collections import Counter

import pytest

from study.kit import answer_for, predictions_for, run_participant
from study_app.study import AnswerError, StudyFileError
from study_app.study.decision import eligible, pool_verdicts, require_pools
from study_app.study.design import build_plan, condition_labels, select_items
from study_app.study.plan import PLAN_VERSION, Plan

ARMS = '["human", "ai", "gradcam", "placebo"]'


def decision_extra(*, arms=ARMS, share=0.5, variant="two_step", on_request=False, source="randomized_model",
                   confidence=0.0) -> str:
    placebo = f'placebo = {{ method = "gradcam", source = "{source}" }}\n' if "placebo" in arms else ""
    return (f"arms = {arms}\n{placebo}ai_wrong_share = {share}\nmin_ai_confidence = {confidence}\n"
            f'variant = "{variant}"\nadvice_on_request = {str(on_request).lower()}\n')


def _trials(steps):
    return [s for s in steps if s.kind == "trial"]


def _plan(engine, token) -> Plan:
    participant = engine.repository.participant_by_token(token)
    return Plan.from_json(json.loads(engine.repository.plan_json(participant.id)))


def _scored(plan: Plan):
    """``{trial: [steps]}`` of the non-attention-check trials."""
    out: dict[int, list] = {}
    for s in plan.trial_steps:
        if not s.is_attention_check:
            out.setdefault(s.trial, []).append(s)
    return out


def test_study_file_fields_are_checked(make_study):
    study = make_study("decision", trials=8, checks=0, extra=decision_extra())
    cfg = study.tasks[0].decision
    assert cfg.arms == ("human", "ai", "gradcam", "placebo") and cfg.ai_wrong_share == 0.5
    assert (cfg.placebo_method, cfg.placebo_source, cfg.variant) == ("gradcam", "randomized_model", "two_step")
    bad = {
        "tasks[0].arms": decision_extra(arms='["human", "nope"]'),
        "tasks[0].placebo": decision_extra().replace('placebo = { method = "gradcam", source = "randomized_model" }\n',
                                                     ""),
        "tasks[0].ai_wrong_share": decision_extra(share=1.5),
        "tasks[0].variant": decision_extra(variant="three_step"),
    }
    for field, extra in bad.items():
        with pytest.raises(StudyFileError, match=field.replace("[", r"\[").replace("]", r"\]")):
            make_study("decision", trials=8, checks=0, extra=extra)
    with pytest.raises(StudyFileError, match=r"tasks\[0\].ai_wrong_share: only applies to protocol decision"):
        make_study("verification", extra="ai_wrong_share = 0.3")


def _pool(study):
    return eligible(study.tasks[0], predictions_for(study)["pets"])


@pytest.mark.parametrize("design", ["within", "between"])
def test_each_participant_gets_exactly_the_share_balanced_over_arms(design, make_study):
    study = make_study("decision", trials=8, checks=1, design=design, extra=decision_extra())
    preds = predictions_for(study)
    wrong, right = _pool(study)
    assert len(wrong) >= 4 and len(right) >= 4, "the tiny model must give both kinds of trials"
    items = select_items(study, preds)
    labels = condition_labels(study)
    assert len(labels) == 4 and (design == "within" or labels == ("human", "ai", "gradcam", "placebo"))
    wrong_per_arm: Counter = Counter()
    for condition in range(len(labels)):
        for seed in range(3):
            trials = _scored(build_plan(study, items, preds, condition, seed))
            assert len(trials) == 8
            model_wrong = [steps[0] for steps in trials.values() if not steps[0].model.correct]
            assert len(model_wrong) == 4  # round(0.5 x 8), exactly, for everyone
            assert all(s.image_id in wrong for s in model_wrong)
            arms = Counter(steps[0].advice.arm for steps in trials.values())
            if design == "within":  # every arm twice, once with the AI wrong
                assert set(arms.values()) == {2} and Counter(s.advice.arm for s in model_wrong) == Counter(
                    {"human": 1, "ai": 1, "gradcam": 1, "placebo": 1})
            else:
                assert arms == Counter({labels[condition]: 8})
            wrong_per_arm.update(s.advice.arm for s in model_wrong)
    assert len(set(wrong_per_arm.values())) == 1  # over all conditions, each arm has as many AI errors


def test_uneven_share_is_rounded_and_spread_within_one(make_study):
    study = make_study("decision", trials=6, checks=0, extra=decision_extra(share=0.3))  # 1.8 -> 2 wrong
    preds = predictions_for(study)
    items = select_items(study, preds)
    for condition in range(4):
        trials = _scored(build_plan(study, items, preds, condition, 11))
        wrong = [s[0].advice.arm for s in trials.values() if not s[0].model.correct]
        assert len(wrong) == 2 and len(set(wrong)) == 2


def test_assignment_stays_balanced_when_participants_drop_out(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("decision", trials=8, checks=0, design="between", extra=decision_extra())
    engine = make_engine_for(study, sqlite_repo)
    walked_away = engine.start_or_resume(None)
    engine.submit(walked_away, "consent", {"agree": True})  # condition 0, then never comes back
    clock.advance(minutes=31)
    for i in range(4):
        token, _ = run_participant(engine, random.Random(i), clock=clock)
        plan = _plan(engine, token)
        assert sum(not s[0].model.correct for s in _scored(plan).values()) == 4
    assert engine.condition_counts() == {"human": 1, "ai": 1, "gradcam": 1, "placebo": 1}


def test_plan_round_trip_and_version_2_plans_still_load(make_study):
    study = make_study("decision", trials=8, checks=1, extra=decision_extra(source="other_image"))
    preds = predictions_for(study)
    plan = build_plan(study, select_items(study, preds), preds, 3, 9)
    assert plan.version == PLAN_VERSION
    again = Plan.from_json(json.loads(json.dumps(plan.to_json())))
    assert again == plan
    placebo = [s for s in plan.trial_steps if s.advice.arm == "placebo" and s.maps]
    assert placebo and all(s.maps[0].image_id == s.advice.placebo_image_id != s.image_id for s in placebo)
    assert all(s.maps[0].key == "placebo" and not s.maps[0].randomized_model for s in placebo)
    old = make_study("verification", trials=4, checks=0)
    old_preds = predictions_for(old)
    v2 = build_plan(old, select_items(old, old_preds), old_preds, 0, 1).to_json()
    v2["version"] = 2
    for step in v2["trial_steps"]:
        step.pop("advice")
        for m in step["maps"]:
            for key in ("image_id", "image_path", "image_sha256"):
                m.pop(key)
    read = Plan.from_json(v2)
    assert read.version == PLAN_VERSION and all(s.advice is None and s.maps[0].image_path is None for s in read.trial_steps)


def test_check_says_whether_the_pool_can_satisfy_the_share(make_study, make_engine_for, sqlite_repo):
    study = make_study("decision", trials=8, checks=0, extra=decision_extra())
    (verdict,) = pool_verdicts(study, predictions_for(study))
    wrong, right = _pool(study)
    assert verdict.ok and (verdict.need_wrong, verdict.need_right) == (4, 4)
    assert (verdict.have_wrong, verdict.have_right) == (len(wrong), len(right))
    impossible = make_study("decision", trials=len(wrong) + 2, checks=0, extra=decision_extra(share=1.0))
    (verdict,) = pool_verdicts(impossible, predictions_for(impossible))
    assert not verdict.ok and f"{len(wrong)} AI-wrong" in verdict.describe()
    with pytest.raises(StudyFileError, match=r"tasks\[0\].ai_wrong_share: the stimuli cannot satisfy"):
        require_pools(impossible, predictions_for(impossible))
    with pytest.raises(StudyFileError, match="cannot satisfy"):
        make_engine_for(impossible, sqlite_repo)


def _walk(engine, clock, answers=None):
    """One participant through the study; returns the token and the trial steps seen."""
    rng = random.Random(5)
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    seen = []
    while step.kind != "done":
        if step.kind == "trial":
            seen.append(step)
        clock.advance(seconds=3)
        answer = (answers or answer_for)(step, rng) if step.kind == "trial" else answer_for(step, rng)
        step = engine.submit(token, step.step_id, answer)
    return token, seen


def test_two_step_asks_before_the_advice_and_again_with_it(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("decision", trials=8, checks=1, extra=decision_extra())
    engine = make_engine_for(study, sqlite_repo)
    _, seen = _walk(engine, clock)
    by_trial: dict[int, list] = {}
    for s in seen:
        by_trial.setdefault(s.trial.index, []).append(s.trial)
    arms = {}
    plan_steps = {}
    for steps in by_trial.values():
        if steps[0].is_attention_check:
            assert [t.phase for t in steps] == ["final"] and steps[0].prediction is None
            continue
        first = steps[0]
        if len(steps) == 1:  # the human arm: one answer, no advice
            assert first.phase == "final" and first.prediction is None and first.methods == ()
            arms[first.index] = "human"
            continue
        initial, final = steps
        assert initial.phase == "initial" and initial.prediction is None and initial.methods == ()
        assert final.phase == "final" and final.prediction is not None and not final.advice_on_request
        assert set(initial.options) == {"cat", "dog"} and initial.options == final.options
        plan_steps[first.index] = [m.key for m in final.methods]
    assert sorted(map(tuple, plan_steps.values())) == [(), (), ("gradcam",), ("gradcam",), ("placebo",), ("placebo",)]
    assert len(arms) == 2


def test_one_step_shows_the_advice_from_the_start(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("decision", trials=8, checks=0, extra=decision_extra(variant="one_step"))
    engine = make_engine_for(study, sqlite_repo)
    _, seen = _walk(engine, clock)
    assert len(seen) == 8 and all(s.trial.phase == "final" for s in seen)
    assert sum(s.trial.prediction is not None for s in seen) == 6  # all but the human arm's two


def test_advice_on_request_records_whether_and_when(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("decision", trials=8, checks=0, extra=decision_extra(on_request=True, variant="one_step"))
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume(None)
    step = engine.submit(token, "consent", {"agree": True})
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step))
    while step.kind == "trial" and step.trial.prediction is None:  # human-arm trials: nothing to request
        assert not step.trial.advice_on_request
        step = engine.submit(token, step.step_id, {"final": "cat", "confidence_final": 3})
    assert step.trial.advice_on_request
    for bad, field in (({"final": "cat", "confidence_final": 3}, "advice_requested"),
                       ({"final": "cat", "confidence_final": 3, "advice_requested": True}, "advice_requested_ms"),
                       ({"final": "cat", "confidence_final": 3, "advice_requested": False,
                         "advice_requested_ms": 5}, "advice_requested_ms")):
        with pytest.raises(AnswerError) as err:
            engine.submit(token, step.step_id, bad)
        assert err.value.field == field
    clock.advance(seconds=4)
    engine.submit(token, step.step_id, {"final": "dog", "confidence_final": 5, "advice_requested": True,
                                        "advice_requested_ms": 2500})
    stored = [r for r in engine.repository.responses(engine.record.id)][-1]
    assert stored.answer == {"final": "dog", "confidence_final": 5, "advice_requested": True,
                             "advice_requested_ms": 2500}
    assert stored.response_time_ms == 4000 and stored.answer["advice_requested_ms"] <= stored.response_time_ms


def test_export_has_both_answers_times_arm_and_placebo_source(make_study, make_engine_for, repo, clock):
    from study_app.analysis.reliance import ExportColumns, participant_table, trials_from_export
    from study_app.export import response_rows

    study = make_study("decision", trials=8, checks=1, extra=decision_extra(on_request=True))
    engine = make_engine_for(study, repo)
    _walk(engine, clock)
    rows = [r for r in response_rows(engine.repository, engine.record) if not r["is_attention_check"]]
    assert len(rows) == 8 and {r["arm"] for r in rows} == {"human", "ai", "gradcam", "placebo"}
    for r in rows:
        assert r["protocol"] == "decision" and r["decision_variant"] == "two_step"
        assert r["answer_final"] in ("cat", "dog") and r["response_time_ms_final"] == 3000
        assert r["correct"] == (r["answer_final"] == r["true_label"])
        if r["arm"] == "human":
            assert "answer_initial" not in r and r["advice_on_request"] is False
        else:
            assert r["answer_initial"] in ("cat", "dog") and isinstance(r["answer_confidence_initial"], int)
            assert r["response_time_ms_initial"] == 3000 and r["answer_advice_requested_ms"] == 1500
            assert r["answer_advice_requested"] is True and r["advice_on_request"] is True
        if r["arm"] == "placebo":
            assert (r["placebo_source"], r["placebo_method"], r["methods"]) == ("randomized_model", "gradcam",
                                                                                 "placebo")
            assert r["randomized_model"] is True and r["map_cache_key"]
        else:
            assert r["placebo_source"] is None
    table = participant_table(trials_from_export(rows, ExportColumns(arm="arm")))
    assert set(table["arm"]) == {"human", "ai", "gradcam", "placebo"} and (table["n_trials"] == 2).all()
    assert table.loc[table["arm"] == "human", "accuracy_initial"].isna().all()
    assert table.loc[table["arm"] == "ai", "accuracy_initial"].notna().all()


def test_export_command_writes_reliance_csv_and_the_page_tables_agree(make_study, make_engine_for, sqlite_repo,
                                                                        clock, tmp_path, capsys):
    import pandas as pd

    from study_app.analysis import tables
    from study_app.cli import main
    from study_app.export import response_rows
    from study_app.export.reliance_report import arm_reliance, participant_reliance

    study = make_study("decision", trials=8, checks=1, extra=decision_extra())
    engine = make_engine_for(study, sqlite_repo)
    # Trials are drawn at random per participant: RAIR and RSR each need a trial of their kind (answered wrong
    # first with the AI right; right first with the AI wrong), which two walks may lack. Walk until both exist.
    walks = 0
    while walks < 2 or not {"rair", "rsr"} <= set(
            arm_reliance(response_rows(engine.repository, engine.record), n_boot=10)["measure"]):
        assert walks < 15, "fifteen walks never gave both RAIR and RSR a trial"
        _walk(engine, clock)
        walks += 1
    out = tmp_path / "results" / "responses.csv"
    url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    assert main(["export", "--study", study.source, "--out", str(out), "--db", url]) == 0
    assert f"reliance measures for {4 * walks} participant x arm rows" in capsys.readouterr().out
    written = pd.read_csv(out.with_name("reliance.csv"))
    rows = response_rows(engine.repository, engine.record)
    direct = participant_reliance(rows)
    assert list(written.columns) == list(direct.columns) and len(written) == 4 * walks
    assert set(written["arm"]) == {"human", "ai", "gradcam", "placebo"} and set(written["task"]) == {"pets"}
    pd.testing.assert_series_equal(written["accuracy_final"], direct["accuracy_final"].astype(float),
                                   check_names=False)
    summary = arm_reliance(rows, n_boot=50)
    assert {"rair", "rsr", "over_reliance", "switch_to_ai", "any_change", "accuracy_wid", "complementarity"} <= set(summary["measure"])
    assert set(tables.trial_frame(rows)["method"]) == {"human", "ai", "gradcam", "placebo"}
    # the generated Python analysis reads this export as it is, with the arm as the condition
    assert main(["analysis-script", "--study", study.source, "--out", str(tmp_path / "scripts")]) == 0
    done = subprocess.run([sys.executable, str(tmp_path / "scripts" / "analysis.py"), str(out),
                           str(tmp_path / "analysis")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "human" in done.stdout and "placebo" in done.stdout


def test_xai_study_check_reports_the_pool(make_study, tmp_path, monkeypatch, capsys):
    from study_app.cli import main

    monkeypatch.setenv("XAI_STUDY_RESEARCHER_PASSWORD", "a long enough password")
    monkeypatch.setenv("XAI_STUDY_CACHE", str(tmp_path / "cache"))
    study = make_study("decision", trials=8, checks=0, extra=decision_extra())
    wrong, right = _pool(study)
    main(["check", "--study", study.source, "--db", f"sqlite:///{tmp_path / 'r.sqlite'}"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "decision trials drawable" in x)
    assert line.startswith("ok") and f"{len(wrong)} AI-wrong and {len(right)} AI-right" in line
    impossible = make_study("decision", sid="impossible", trials=len(wrong) + 1, checks=0,
                            extra=decision_extra(share=1.0))
    assert main(["check", "--study", impossible.source, "--db", f"sqlite:///{tmp_path / 'r.sqlite'}"]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if "decision trials drawable" in x)
    assert line.startswith("FAIL") and f"{len(wrong) + 1} with the AI wrong" in line


@pytest.mark.parametrize("source", ["other_image", "randomized_model"])
def test_placebo_map_is_served_and_recorded_from_its_own_source(source, make_study, tmp_path):
    from dataclasses import replace as copy

    from study_app.maps.service import make_map_service
    from study_app.study.showing import record_showing

    study = make_study("decision", trials=8, checks=0, extra=decision_extra(source=source))
    preds = predictions_for(study)
    plan = build_plan(study, select_items(study, preds), preds, 0, 2)
    step = next(s for s in plan.trial_steps if s.advice.arm == "placebo" and s.maps)
    service = make_map_service(tmp_path / "cache")
    (record,) = record_showing(step, service).maps
    planned = step.maps[0]
    assert record.cache_key == planned.cache_key and record.png_sha256
    own = copy(planned, image_path=None, randomized_model=False)
    (own_record,) = record_showing(copy(step, maps=(own,)), service).maps
    assert own_record.cache_key != record.cache_key  # not the trial image's real map
    assert planned.randomized_model == (source == "randomized_model")


def test_mixed_study_balances_every_arm_list(make_study, checkpoint_dir, stimuli_dir):
    from study.kit import TASK

    tasks = (TASK.format(task="verify", protocol="verification", checkpoint=checkpoint_dir.as_posix(),
                         stimuli=stimuli_dir.as_posix(), trials=4, checks=0, extra="")
             + TASK.format(task="decide", protocol="decision", checkpoint=checkpoint_dir.as_posix(),
                           stimuli=stimuli_dir.as_posix(), trials=8, checks=0, extra=decision_extra()))
    study = make_study("decision", design="between", tasks=tasks)
    labels = condition_labels(study)  # methods (2 arms) and decision arms (4): lcm 4 conditions
    assert labels == ("gradcam/human", "integrated_gradients/ai", "gradcam/gradcam", "integrated_gradients/placebo")
    preds = predictions_for(study)
    items = select_items(study, preds)
    for condition, label in enumerate(labels):
        plan = build_plan(study, items, preds, condition, 4)
        verify = {s.arms for s in plan.trial_steps if s.task == "verify"}
        decide = {s.advice.arm for s in plan.trial_steps if s.task == "decide"}
        assert "/".join([*next(iter(verify)), *decide]) == label and len(verify) == 1


def test_verification_studies_get_reliance_measures_too(make_study, make_engine_for, sqlite_repo, clock):
    from study_app.export import response_rows
    from study_app.export.reliance_report import participant_reliance

    study = make_study("verification", trials=4, checks=1, control=True)
    engine = make_engine_for(study, sqlite_repo)
    _walk(engine, clock)
    table = participant_reliance(response_rows(engine.repository, engine.record))
    assert set(table["protocol"]) == {"verification"} and table["n_trials"].sum() == 4
    assert table["agreement"].notna().all() and table["accuracy_initial"].isna().all()


def test_a_share_that_rounds_away_is_refused_when_the_file_is_read(make_study):
    with pytest.raises(StudyFileError, match=r"tasks\[0\].ai_wrong_share: 0.1 of 4 trials rounds to 0"):
        make_study("decision", trials=4, checks=0, extra=decision_extra(share=0.1))
    with pytest.raises(StudyFileError, match=r"0.9 of 4 trials rounds to 4"):
        make_study("decision", trials=4, checks=0, extra=decision_extra(share=0.9))
    assert make_study("decision", trials=4, checks=0, extra=decision_extra(share=0.0)).tasks[0].decision
