"""Pilot runs never tip the balance; the screen-out rule ends a study politely and frees the slot; the
browser's data-quality counts are stored with the answer. On SQLite and PostgreSQL."""

from __future__ import annotations

import dataclasses

from study.kit import answer_for, asked_decision
from study_app.study.screening import is_pilot_link, pilot_key
from study_app.study.steps import SCREENED_OUT


def _failing(step) -> dict:
    """An answer to a verification trial that fails its attention check (the opposite of the instruction)."""
    answer = answer_for(step)
    if step.trial.is_attention_check:
        answer["decision"] = "reject" if asked_decision(step.trial.attention_prompt) == "accept" else "accept"
    return answer


def _to_first_trial(engine, token, *, pilot=False):
    step = engine.current_step(token)
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step), pilot=pilot)
    return step


def test_a_pilot_run_is_stored_flagged_and_never_counts_towards_balance(make_study, make_engine_for, repo):
    study = make_study("verification", trials=2, checks=0, design="between")
    engine = make_engine_for(study, repo)
    token = engine.start_or_resume(None)
    _to_first_trial(engine, token, pilot=True)
    pilot = repo.participant_by_token(token)
    assert pilot.pilot is True
    assert set(engine.condition_counts().values()) == {0}  # the pilot is active yet counts nowhere
    real = engine.start_or_resume(None)
    _to_first_trial(engine, real)
    assert repo.participant_by_token(real).pilot is False
    assert sum(engine.condition_counts().values()) == 1
    # the balance saw no one before the real participant, so they got the first condition, like the pilot
    assert repo.participant_by_token(real).condition == pilot.condition == 0
    consent = next(e for e in repo.events(engine.record.id) if e.kind == "consent" and e.participant_id == pilot.id)
    assert consent.detail["pilot"] is True


def test_screen_out_after_failed_checks_ends_politely_and_frees_the_slot(make_study, make_engine_for, repo):
    study = dataclasses.replace(make_study("verification", trials=4, checks=2), screen_out_after=2)
    engine = make_engine_for(study, repo)
    token = engine.start_or_resume(None)
    step = _to_first_trial(engine, token)
    failed = 0
    while step.kind == "trial":
        if step.trial.is_attention_check:
            failed += 1
        step = engine.submit(token, step.step_id, _failing(step))
    assert step.kind == SCREENED_OUT and failed == 2
    participant = repo.participant_by_token(token)
    assert participant.status == SCREENED_OUT and participant.completed_at is not None
    assert engine.current_step(token).kind == SCREENED_OUT  # a reload shows the same end page
    answered = [r for r in repo.responses(engine.record.id) if r.participant_id == participant.id]
    assert sum(r.attention_passed is False for r in answered) == 2  # answers are kept for the researcher
    # Only trials the participant saw are recorded as shown: not the one that would have followed the screen-out.
    shown = {(s.trial_index, s.phase) for s in repo.shown_trials(engine.record.id) if s.participant_id == participant.id}
    assert shown == {(r.trial_index, r.phase) for r in answered}
    assert engine.submit(token, "trial:0/main", {"decision": "accept", "confidence": 3}).kind == SCREENED_OUT
    assert len([r for r in repo.responses(engine.record.id) if r.participant_id == participant.id]) == len(answered)
    assert sum(engine.condition_counts().values()) == 0  # their slot is back in the pool
    assert any(e.kind == "screen_out" and e.detail["failed_attention_checks"] == 2
               for e in repo.events(engine.record.id))


def test_without_the_rule_failed_checks_do_not_end_the_study(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", trials=3, checks=2), repo)
    token = engine.start_or_resume(None)
    step = _to_first_trial(engine, token)
    while step.kind == "trial":
        step = engine.submit(token, step.step_id, _failing(step))
    assert step.kind != SCREENED_OUT and repo.participant_by_token(token).status != SCREENED_OUT


def test_browser_signals_are_stored_with_the_answer(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), repo)
    token = engine.start_or_resume(None)
    step = _to_first_trial(engine, token)
    signals = {"hidden_count": 2, "hidden_ms": 4100, "blur_count": 3, "blur_ms": 5200}
    step = engine.submit(token, step.step_id, answer_for(step), signals=signals)
    engine.submit(token, step.step_id, answer_for(step))  # the browser reported nothing
    first, second = sorted(repo.responses(engine.record.id), key=lambda r: r.trial_index)
    assert first.signals == signals
    assert second.signals == dict.fromkeys(signals)


def test_the_pilot_key_is_per_study_and_unguessable_without_the_id_key():
    key = pilot_key(b"k" * 32, "study-a")
    assert len(key) == 20 and key == pilot_key(b"k" * 32, "study-a")
    assert key != pilot_key(b"k" * 32, "study-b") and key != pilot_key(b"j" * 32, "study-a")
    assert is_pilot_link(key, key)
    assert not is_pilot_link(None, key) and not is_pilot_link("", key) and not is_pilot_link(key[:-1] + "x", key)
