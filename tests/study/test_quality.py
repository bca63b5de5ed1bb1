"""Data-quality signals on hand-made rows with known answers."""

from __future__ import annotations

import dataclasses

from study_app.study.quality import (
    QualityRules,
    is_too_fast,
    participant_quality,
    quality_by_participant,
    straight_lining,
    trial_quality,
)
from study_app.study.steps import Question

RULES = QualityRules(min_trial_seconds=2.0, straight_lining_min_items=4, away_ms=5000)


def test_too_fast_needs_a_minimum_and_a_time():
    assert is_too_fast(1999, RULES) is True
    assert is_too_fast(2000, RULES) is False
    assert is_too_fast(None, RULES) is None
    assert is_too_fast(10, QualityRules()) is None  # the study set no minimum: nothing is judged


def test_straight_lining_needs_enough_identical_answers():
    assert straight_lining([4, 4, 4, 4], RULES)
    assert not straight_lining([4, 4, 4], RULES)  # too few to tell
    assert not straight_lining([4, 4, 5, 4], RULES)
    assert not straight_lining([], RULES)


def test_trial_columns_take_whole_browser_counts_and_leave_missing_ones_empty():
    row = trial_quality(1500, {"hidden_count": 2, "hidden_ms": 3400.0, "blur_count": True}, RULES)
    assert row == {"too_fast": True, "hidden_count": 2, "hidden_ms": 3400, "blur_count": None, "blur_ms": None}
    assert trial_quality(None, None, RULES) == {"too_fast": None, "hidden_count": None, "hidden_ms": None,
                                                "blur_count": None, "blur_ms": None}


def test_participant_summary_counts_and_flags():
    trials = [
        {"too_fast": True, "is_attention_check": False, "attention_passed": None, "hidden_count": 1,
         "hidden_ms": 3000, "blur_ms": 3500},
        {"too_fast": False, "is_attention_check": True, "attention_passed": False, "hidden_count": 0,
         "hidden_ms": 0, "blur_ms": 2000},
        {"too_fast": None, "is_attention_check": True, "attention_passed": True, "hidden_count": None,
         "hidden_ms": None, "blur_ms": None},
    ]
    summary = participant_quality(trials, [3, 3, 3, 3, 3], RULES)
    assert summary == {"too_fast_trials": 1, "failed_attention_checks": 1, "failed_comprehension": 0,
                       "failed_checks": 1, "likert_items": 5, "straight_lining": True, "hidden_count": 1,
                       "away_ms": 5500, "external_ids_refused": "",
                       "quality_flags": "too_fast attention straight_lining away"}
    clean = participant_quality(trials[2:], [1, 2, 3, 4], RULES)
    assert clean["quality_flags"] == "" and clean["away_ms"] == 0


def test_wrong_comprehension_answers_are_failed_checks_with_the_attention_checks():
    questions = (Question(id="maps", text="?", kind="choice", options=("model", "object"), correct="model"),
                 Question(id="task", text="?", kind="choice", options=("judge", "guess"), correct="judge"))
    rules = dataclasses.replace(RULES, comprehension=questions)
    failed_check = [{"is_attention_check": True, "attention_passed": False}]
    summary = participant_quality(failed_check, [], rules, {"maps": "object", "task": "judge"})
    assert (summary["failed_attention_checks"], summary["failed_comprehension"], summary["failed_checks"]) == (1, 1, 2)
    assert summary["quality_flags"] == "attention comprehension"
    right = participant_quality([], [], rules, {"maps": "model", "task": "judge"})
    assert right["failed_checks"] == 0 and right["quality_flags"] == ""
    assert participant_quality([], [], rules)["failed_comprehension"] == 0  # nothing stored: nothing failed


def test_by_participant_includes_those_with_only_questionnaire_answers():
    rows = [{"participant": "a", "too_fast": True}, {"participant": "a", "too_fast": True},
            {"participant": "b", "too_fast": False}]
    out = quality_by_participant(rows, {"c": [5, 5, 5, 5]}, RULES)
    assert list(out) == ["a", "b", "c"]
    assert out["a"]["too_fast_trials"] == 2 and out["b"]["quality_flags"] == ""
    assert out["c"]["straight_lining"] and out["c"]["too_fast_trials"] == 0
