"""Per-trial flags and per-participant reliance measures on hand-made trials whose answers are worked out in the
comments (arm-level estimates, complementarity and intervals: test_reliance_arms.py)."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from study.kit import answer_for

from study_app.analysis.reliance import (
    ExportColumns,
    decision_trials,
    participant_table,
    trials_from_export,
    verification_trials,
)
from study_app.export import response_rows

COLS = ["participant", "arm", "image", "truth", "ai_answer", "initial_answer", "final_answer",
        "time_first_ms", "time_final_ms"]
# p1 in arm "ai": every cell of the (initial right?, AI right?) table once or twice.
P1 = [
    ("p1", "ai", "i1", "a", "a", "a", "a", 1000, 3000),  # init right, AI right, agrees throughout
    ("p1", "ai", "i2", "a", "a", "b", "a", 2000, 4000),  # init wrong, AI right, switched   -> RAIR hit
    ("p1", "ai", "i3", "a", "a", "b", "b", 3000, 5000),  # init wrong, AI right, kept       -> RAIR miss
    ("p1", "ai", "i4", "b", "a", "b", "b", 4000, 6000),  # init right, AI wrong, kept       -> RSR hit
    ("p1", "ai", "i5", "b", "a", "b", "a", 5000, 7000),  # init right, AI wrong, switched   -> RSR miss
    ("p1", "ai", "i6", "b", "a", "a", "a", 6000, 8000),  # init wrong, AI wrong, agrees throughout
]
P2 = [
    ("p2", "ai", "i1", "a", "a", "b", "a", 1000, 2000),  # init wrong, AI right, switched -> RAIR 1/1
    ("p2", "ai", "i4", "b", "b", "b", "b", 3000, 4000),  # all right
]
# three classes: initially right, AI wrong, final answer is neither (not the AI's, not the truth)
P3 = [("p3", "gradcam", "i7", "c", "a", "c", "b", 1000, 1000)]
# human arm: no advice; one step (no initial answer); 2 of 4 right
P4 = [("p4", "human", f"h{i}", "a", "a", None, ans, None, 1500) for i, ans in enumerate("aabb")]


def _trials(*groups):
    return decision_trials(pd.DataFrame([r for g in groups for r in g], columns=COLS))


def _row(table, participant, arm):
    return table[(table["participant"] == participant) & (table["arm"] == arm)].iloc[0]


def test_flags_compare_answers_as_given():
    t = _trials(P1)
    assert t["ai_correct"].tolist() == [1, 1, 1, 0, 0, 0]
    assert t["initial_correct"].tolist() == [1, 0, 0, 1, 1, 0]
    assert t["final_correct"].tolist() == [1, 1, 0, 1, 0, 0]
    assert t["initial_agrees"].tolist() == [1, 0, 0, 0, 0, 1]
    assert t["final_agrees"].tolist() == [1, 1, 0, 0, 1, 1]
    assert t["final_changed"].tolist() == [0, 1, 0, 0, 1, 0]
    assert t["unrequested"].tolist() == [0] * 6  # no advice on request: every advice was seen
    assert _trials(P4)["final_changed"].isna().all()  # one-step: nothing to change from


def test_participant_measures_by_hand():
    table = participant_table(_trials(P1, P2, P3, P4))
    assert (table["empty_denominator"] == "exclude").all()
    p1 = _row(table, "p1", "ai")
    expected = {
        "accuracy_initial": 3 / 6, "accuracy_final": 3 / 6, "ai_accuracy": 3 / 6, "agreement_initial": 2 / 6,
        "agreement": 4 / 6,
        "switch_to_ai": 2 / 4,  # initial differed on i2..i5; moved to the AI on i2, i5
        "any_change": 2 / 6,  # changed on i2, i5
        "accuracy_wid": 2 / 4,  # initial differed on i2..i5; final right on i2, i4
        "over_reliance": 2 / 3,  # AI wrong on i4..i6; agreed on i5, i6
        "under_reliance": 1 / 3,  # AI right on i1..i3; disagreed on i3
        "rair": 1 / 2, "rsr": 1 / 2, "time_first_s": 3.5, "time_final_s": 5.5,
    }
    for name, value in expected.items():
        assert p1[name] == pytest.approx(value), name
    assert p1["n_trials"] == 6
    assert (p1["switch_to_ai_n"], p1["over_reliance_n"], p1["rair_n"], p1["rsr_n"]) == (4, 3, 2, 2)
    assert p1["complementarity_per_participant"] == pytest.approx(0.0)  # 0.5 - max(0.5, 0.5)
    assert np.isnan(p1["advice_request_rate"]) and np.isnan(p1["time_request_s"])  # advice not on request

    p2 = _row(table, "p2", "ai")
    assert p2["rair"] == 1.0 and p2["rair_n"] == 1
    assert np.isnan(p2["rsr"]) and p2["rsr_n"] == 0  # no trial with a right initial answer and a wrong AI
    assert np.isnan(p2["over_reliance"]) and p2["under_reliance"] == 0.0
    assert (p2["switch_to_ai"], p2["any_change"], p2["accuracy_wid"]) == (1.0, 0.5, 1.0)
    assert p2["complementarity_per_participant"] == pytest.approx(1.0 - max(0.5, 1.0))

    p3 = _row(table, "p3", "gradcam")  # a third class: changed, but neither kept nor switched to the AI
    assert (p3["rsr"], p3["over_reliance"], p3["switch_to_ai"], p3["accuracy_final"]) == (0.0, 0.0, 0.0, 0.0)
    assert (p3["any_change"], p3["accuracy_wid"]) == (1.0, 0.0)

    p4 = _row(table, "p4", "human")  # one-step: everything that needs an initial answer is undefined
    assert p4["accuracy_final"] == 0.5 and p4["agreement"] == 0.5 and p4["time_final_s"] == 1.5
    for name in ("accuracy_initial", "switch_to_ai", "any_change", "accuracy_wid", "rair", "rsr", "time_first_s",
                 "complementarity_per_participant"):
        assert np.isnan(p4[name]), name
    assert list(table["arm"]) == ["human", "ai", "ai", "gradcam"]  # human first, then ai, then methods


def test_zero_convention_fills_only_conditional_measures_with_trials_in_scope():
    zero = participant_table(_trials(P1, P2, P4), empty="zero")
    assert (zero["empty_denominator"] == "zero").all()
    p2 = _row(zero, "p2", "ai")
    # p2 had two two-step trials with the advice seen, none with a right initial answer and a wrong AI: RSR 0
    assert (p2["rsr"], p2["rsr_n"], p2["over_reliance"], p2["over_reliance_n"]) == (0.0, 0, 0.0, 0)
    assert p2["rair"] == 1.0  # a defined value is unchanged
    p4 = _row(zero, "p4", "human")  # no initial answer: RAIR does not exist for this design, not even as 0
    for name in ("rair", "rsr", "switch_to_ai", "accuracy_wid", "accuracy_initial", "time_first_s"):
        assert np.isnan(p4[name]), name
    exclude = participant_table(_trials(P1, P2, P4))
    pd.testing.assert_series_equal(zero["rair"], exclude["rair"])  # nobody had an empty RAIR denominator
    with pytest.raises(ValueError, match="exclude or zero"):
        participant_table(_trials(P1), empty="drop")


# advice on request (truth, AI, initial, final, requested, ms to the request)
ON_REQUEST = [
    ("a", "a", "b", "a", True, 1500),  # u1: asked, switched to the right AI: RAIR hit
    ("a", "a", "b", "a", False, None),  # u2: never asked; the answer happens to be the AI's: no reliance
    ("b", "a", "b", "b", False, None),  # u3: never asked
    ("b", "a", "b", "a", True, 2500),  # u4: asked, followed the wrong AI: RSR miss, over-reliance
]


def _on_request(participant="p5", rows=ON_REQUEST):
    return decision_trials(pd.DataFrame([
        {"participant": participant, "arm": "ai", "image": f"u{i}", "truth": t, "ai_answer": ai, "initial_answer": a0,
         "final_answer": a1, "advice_on_request": True, "advice_requested": asked, "time_request_ms": ms,
         "time_final_ms": 4000} for i, (t, ai, a0, a1, asked, ms) in enumerate(rows)]))


def test_advice_never_requested_is_no_reliance_but_counts_for_accuracy():
    trials = _on_request()
    assert trials["unrequested"].tolist() == [0, 1, 1, 0]
    p5 = participant_table(trials).iloc[0]
    assert p5["accuracy_final"] == pytest.approx(3 / 4) and p5["accuracy_final_n"] == 4  # u1, u2, u3 right
    assert p5["accuracy_initial"] == pytest.approx(2 / 4)  # before advice: every trial
    assert (p5["agreement"], p5["agreement_n"]) == (1.0, 2)  # u1, u4 only
    assert (p5["rair"], p5["rair_n"]) == (1.0, 1)  # u2 (never asked) is not a RAIR trial
    assert (p5["rsr"], p5["rsr_n"], p5["over_reliance"]) == (0.0, 1, 1.0)
    assert (p5["under_reliance"], p5["under_reliance_n"]) == (0.0, 1)
    assert (p5["switch_to_ai"], p5["switch_to_ai_n"]) == (1.0, 2)
    assert p5["advice_request_rate"] == pytest.approx(2 / 4) and p5["advice_request_rate_n"] == 4
    assert p5["time_request_s"] == pytest.approx((1.5 + 2.5) / 2) and p5["time_final_s"] == 4.0


def test_a_participant_who_never_asks_has_no_reliance_under_either_convention():
    never = [(t, ai, a0, a1, False, None) for t, ai, a0, a1, _, _ in ON_REQUEST]
    for empty in ("exclude", "zero"):
        row = participant_table(_on_request("p6", never), empty=empty).iloc[0]
        for name in ("agreement", "rair", "rsr", "switch_to_ai", "any_change", "over_reliance", "accuracy_wid"):
            assert np.isnan(row[name]) and row[f"{name}_n"] == 0, (empty, name)
        assert row["advice_request_rate"] == 0.0 and row["accuracy_final"] == pytest.approx(3 / 4)


def test_missing_columns_are_named():
    with pytest.raises(ValueError, match="ai_answer"):
        decision_trials(pd.DataFrame({"participant": [], "arm": [], "image": [], "truth": [], "final_answer": []}))


def _verification_row(p, arm, decision, model_correct, correct, ms=2000, check="false"):
    return {"participant": p, "methods": arm, "protocol": "verification", "image_id": "x", "true_label": "cat",
            "predicted_label": "cat" if model_correct == "true" else "dog", "model_correct": model_correct,
            "answer_decision": decision, "correct": correct, "response_time_ms": ms, "is_attention_check": check}


def test_verification_rows_give_agreement_and_over_under_reliance():
    rows = [
        _verification_row("v1", "gradcam", "accept", "true", "true"),
        _verification_row("v1", "gradcam", "accept", "false", "false"),  # over-reliance
        _verification_row("v1", "gradcam", "reject", "true", "false"),  # under-reliance
        _verification_row("v1", "gradcam", "reject", "false", "true"),
        _verification_row("v1", "gradcam", "reject", "false", "true"),
        _verification_row("v1", "gradcam", "accept", "true", "", check="true"),  # attention check: dropped
        _verification_row("v2", "none", "accept", "false", "false", ms=4000),
    ]
    table = participant_table(verification_trials(pd.DataFrame(rows)))
    v1 = _row(table, "v1", "gradcam")
    assert v1["n_trials"] == 5
    assert v1["agreement"] == pytest.approx(2 / 5)
    assert v1["over_reliance"] == pytest.approx(1 / 3)
    assert v1["under_reliance"] == pytest.approx(1 / 2)
    assert v1["accuracy_final"] == pytest.approx(3 / 5) and v1["ai_accuracy"] == pytest.approx(2 / 5)
    assert np.isnan(v1["rair"]) and np.isnan(v1["switch_to_ai"]) and np.isnan(v1["any_change"])  # one-step: no initial answer
    assert _row(table, "v2", "none")["time_final_s"] == 4.0


def test_verification_measures_from_a_real_export(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification", trials=4, checks=1, control=True)
    engine = make_engine_for(study, sqlite_repo)
    for i in range(4):
        token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": f"P{i}"})
        rng, step = random.Random(i), engine.current_step(token)
        while step.kind != "done":
            step = engine.submit(token, step.step_id, answer_for(step, rng))
    (record,) = sqlite_repo.studies()
    rows = pd.DataFrame(response_rows(sqlite_repo, record))
    scored = rows[~rows["is_attention_check"].astype(bool)]
    trials = verification_trials(rows)
    assert len(trials) == len(scored)
    table = participant_table(trials)
    for _, r in table.iterrows():
        mine = scored[(scored["participant"] == r["participant"]) & (scored["methods"] == r["arm"])]
        accepted = mine["answer_decision"] == "accept"
        wrong = ~mine["model_correct"].astype(bool)
        assert r["agreement"] == pytest.approx(accepted.mean())
        if wrong.any():
            assert r["over_reliance"] == pytest.approx(accepted[wrong].mean())
        assert r["accuracy_final"] == pytest.approx(mine["correct"].astype(bool).mean())


def test_export_rows_of_a_two_phase_task_give_the_same_measures(tmp_path):
    tidy = pd.DataFrame([r for g in (P1, P2, P4) for r in g], columns=COLS)
    export = pd.DataFrame({
        "participant": tidy["participant"], "methods": tidy["arm"], "image_id": tidy["image"],
        "true_label": tidy["truth"], "predicted_label": tidy["ai_answer"],
        "answer_initial": tidy["initial_answer"].fillna(""), "answer_final": tidy["final_answer"],
        "response_time_ms_initial": tidy["time_first_ms"], "response_time_ms_final": tidy["time_final_ms"],
        "is_attention_check": "false", "task": "mri"})
    check = export.iloc[[0]].assign(is_attention_check="true")
    path = tmp_path / "responses.csv"
    pd.concat([export, check]).to_csv(path, index=False)
    from_csv = trials_from_export(pd.read_csv(path, dtype=str, keep_default_na=False), task="mri")
    expected = participant_table(decision_trials(tidy))
    pd.testing.assert_frame_equal(participant_table(from_csv), expected)
    renamed = export.rename(columns={"answer_final": "answer_choice"})
    custom = trials_from_export(renamed, ExportColumns(final_answer="answer_choice"))
    pd.testing.assert_frame_equal(participant_table(custom), expected)


def test_advice_request_columns_are_read_from_the_export_csv(tmp_path):
    tidy = _on_request()
    export = pd.DataFrame({
        "participant": tidy["participant"], "arm": "ai", "image_id": tidy["image"], "true_label": tidy["truth"],
        "predicted_label": tidy["ai_answer"], "answer_initial": tidy["initial_answer"],
        "answer_final": tidy["final_answer"], "advice_on_request": True,
        "answer_advice_requested": [True, False, False, True], "answer_advice_requested_ms": [1500, None, None, 2500],
        "response_time_ms_final": 4000, "is_attention_check": False})
    path = tmp_path / "responses.csv"
    export.to_csv(path, index=False)  # booleans become True/False, a missing time an empty cell
    from_csv = trials_from_export(pd.read_csv(path, dtype=str, keep_default_na=False), ExportColumns(arm="arm"))
    assert from_csv["unrequested"].tolist() == [0, 1, 1, 0]
    pd.testing.assert_frame_equal(participant_table(from_csv), participant_table(tidy))


def test_export_command_writes_reliance_csv_under_the_chosen_convention(make_study, make_engine_for, sqlite_repo,
                                                                         tmp_path, capsys):
    from study.test_decision import decision_extra

    from study_app.cli import main
    from study_app.export.reliance_report import participant_reliance

    study = make_study("decision", trials=8, checks=1, extra=decision_extra(on_request=True))
    engine = make_engine_for(study, sqlite_repo)
    for i in range(3):
        token, rng = engine.start_or_resume(None), random.Random(i)
        step = engine.current_step(token)
        while step.kind != "done":
            step = engine.submit(token, step.step_id, answer_for(step, rng))
    out = tmp_path / "results" / "responses.csv"
    args = ["export", "--study", study.source, "--out", str(out), "--db", f"sqlite:///{tmp_path / 'responses.sqlite'}"]
    assert main([*args, "--reliance-empty", "zero"]) == 0
    assert "(empty denominators: zero)" in capsys.readouterr().out
    written = pd.read_csv(out.with_name("reliance.csv"))
    assert set(written["empty_denominator"]) == {"zero"}
    direct = participant_reliance(response_rows(sqlite_repo, sqlite_repo.studies()[0]), empty="zero")
    pd.testing.assert_series_equal(written["rsr"], direct["rsr"].astype(float), check_names=False)
    assert main(args) == 0  # the default is exclude
    assert set(pd.read_csv(out.with_name("reliance.csv"))["empty_denominator"]) == {"exclude"}
    with pytest.raises(SystemExit):
        main([*args, "--reliance-empty", "drop"])
    assert "invalid choice: 'drop'" in capsys.readouterr().err
