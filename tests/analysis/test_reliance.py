"""Reliance measures on hand-made trials whose answers are worked out in the comments."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from study.kit import answer_for

from study_app.analysis.reliance import (
    MEASURE_NAMES,
    ExportColumns,
    arm_summary,
    bootstrap_weights,
    decision_trials,
    participant_table,
    trials_from_export,
    verification_trials,
)
from study_app.store.export import response_rows

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


def test_participant_measures_by_hand():
    table = participant_table(_trials(P1, P2, P3, P4))
    p1 = _row(table, "p1", "ai")
    expected = {
        "accuracy_initial": 3 / 6, "accuracy_final": 3 / 6, "ai_accuracy": 3 / 6, "agreement_initial": 2 / 6,
        "agreement": 4 / 6,
        "switch_fraction": 2 / 4,  # initial differed on i2..i5; moved to the AI on i2, i5
        "over_reliance": 2 / 3,  # AI wrong on i4..i6; agreed on i5, i6
        "under_reliance": 1 / 3,  # AI right on i1..i3; disagreed on i3
        "rair": 1 / 2, "rsr": 1 / 2, "time_first_s": 3.5, "time_final_s": 5.5,
    }
    for name, value in expected.items():
        assert p1[name] == pytest.approx(value), name
    assert p1["n_trials"] == 6
    assert (p1["switch_fraction_n"], p1["over_reliance_n"], p1["rair_n"], p1["rsr_n"]) == (4, 3, 2, 2)
    assert p1["complementarity"] == pytest.approx(0.0)  # 0.5 - max(0.5, 0.5)

    p2 = _row(table, "p2", "ai")
    assert p2["rair"] == 1.0 and p2["rair_n"] == 1
    assert np.isnan(p2["rsr"]) and p2["rsr_n"] == 0  # no trial with a right initial answer and a wrong AI
    assert np.isnan(p2["over_reliance"]) and p2["under_reliance"] == 0.0
    assert p2["complementarity"] == pytest.approx(1.0 - max(0.5, 1.0))

    p3 = _row(table, "p3", "gradcam")  # a third class: neither kept nor switched to the AI
    assert (p3["rsr"], p3["over_reliance"], p3["switch_fraction"], p3["accuracy_final"]) == (0.0, 0.0, 0.0, 0.0)

    p4 = _row(table, "p4", "human")  # one-step: everything that needs an initial answer is undefined
    assert p4["accuracy_final"] == 0.5 and p4["agreement"] == 0.5 and p4["time_final_s"] == 1.5
    for name in ("accuracy_initial", "switch_fraction", "rair", "rsr", "time_first_s", "complementarity"):
        assert np.isnan(p4[name]), name
    assert list(table["arm"]) == ["human", "ai", "ai", "gradcam"]  # human first, then ai, then methods


def test_arm_summary_participant_and_trial_weighting():
    trials = _trials(P1, P2, P3, P4)
    by_participant = arm_summary(trials, n_boot=200)
    est = by_participant.set_index(["arm", "measure"])["estimate"]
    assert est["ai", "rair"] == pytest.approx((1 / 2 + 1) / 2)  # mean of participants
    assert est["ai", "rsr"] == pytest.approx(1 / 2)  # p2 has no eligible trial: left out
    assert est["ai", "accuracy_final"] == pytest.approx((0.5 + 1.0) / 2)
    assert est["ai", "gain_vs_human_arm"] == pytest.approx(0.75 - 0.5)
    assert est["ai", "gain_vs_ai"] == pytest.approx(0.75 - (0.5 + 1.0) / 2)
    assert est["ai", "complementarity"] == pytest.approx(0.0)  # (0 + 0) / 2
    counts = by_participant.set_index(["arm", "measure"])
    assert counts.loc[("ai", "rsr"), "participants"] == 1 and counts.loc[("ai", "rair"), "trials"] == 3
    by_trial = arm_summary(trials, n_boot=200, weighting="trial").set_index(["arm", "measure"])["estimate"]
    assert by_trial["ai", "rair"] == pytest.approx(2 / 3)  # (1 + 1) / (2 + 1) pooled
    assert by_trial["ai", "accuracy_final"] == pytest.approx(5 / 8)
    assert set(MEASURE_NAMES) <= set(by_participant["measure"])


def test_bootstrap_interval_brackets_and_is_reproducible():
    rng = np.random.default_rng(3)
    rows = []
    for p in range(40):
        skill = rng.uniform(0.4, 0.9)
        for i in range(10):
            truth = "a"
            rows.append((f"p{p}", "ai", f"i{i}", truth, "a" if i < 7 else "b", None,
                         "a" if rng.random() < skill else "b", None, None))
    trials = decision_trials(pd.DataFrame(rows, columns=COLS))
    a = arm_summary(trials, n_boot=500, seed=1)
    b = arm_summary(trials, n_boot=500, seed=1)
    pd.testing.assert_frame_equal(a, b)
    acc = a.set_index("measure").loc["accuracy_final"]
    assert acc["ci_low"] < acc["estimate"] < acc["ci_high"]
    # the participant bootstrap's spread is the standard error of the participant mean
    per_person = participant_table(trials)["accuracy_final"]
    se = per_person.std(ddof=1) / np.sqrt(len(per_person))
    assert (acc["ci_high"] - acc["ci_low"]) / (2 * 1.96) == pytest.approx(se, rel=0.2)


def test_identical_participants_give_a_degenerate_interval():
    rows = [(f"p{p}", "ai", "i1", "a", "a", "b", "a", None, None) for p in range(5)]
    out = arm_summary(decision_trials(pd.DataFrame(rows, columns=COLS)), n_boot=100).set_index("measure")
    assert tuple(out.loc["rair", ["estimate", "ci_low", "ci_high"]]) == (1.0, 1.0, 1.0)


def test_bootstrap_weights_keep_stratum_sizes():
    people = pd.Series([f"p{i}" for i in range(7)])
    strata = pd.Series(["A"] * 3 + ["B"] * 4)
    w = bootstrap_weights(people, strata, n_boot=50, seed=0)
    assert w.shape == (50, 7)
    assert np.all(w[:, :3].sum(axis=1) == 3) and np.all(w[:, 3:].sum(axis=1) == 4)


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
    assert np.isnan(v1["rair"]) and np.isnan(v1["switch_fraction"])  # one-step: no initial answer
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
