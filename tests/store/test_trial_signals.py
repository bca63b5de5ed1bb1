"""Page signals survive a reload: each page load's counts are kept per trial as they change, and the answer
gets the earlier loads' counts added to the submitted ones (the rehearsal found 0 for a trial that spanned a
reload). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from types import SimpleNamespace

from study.kit import answer_for

from study_app.study.quality import keep_signals
from study_app.study.steps import TRIAL


def _at_first_trial(engine):
    token = engine.start_or_resume()
    step = engine.current_step(token)
    while step.kind != TRIAL:
        step = engine.submit(token, step.step_id, answer_for(step))
    return token, step


def _counts(hidden=0, hidden_ms=0, blur=0, blur_ms=0) -> dict:
    return {"hidden_count": hidden, "hidden_ms": hidden_ms, "blur_count": blur, "blur_ms": blur_ms}


def _response(engine, token, step):
    participant = engine.repository.participant_by_token(token)
    return next(r for r in engine.repository.responses(engine.record.id)
                if r.participant_id == participant.id and r.trial_index == step.trial.index)


def test_counts_of_an_earlier_page_load_are_added_to_the_submitted_ones(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", checks=0), repo)
    token, step = _at_first_trial(engine)
    keep_signals(engine, token, step, _counts(hidden=1, hidden_ms=500), "load1a")
    keep_signals(engine, token, step, _counts(hidden=1, hidden_ms=900, blur=1, blur_ms=900), "load1a")  # replaces
    keep_signals(engine, token, step, _counts(hidden=1, hidden_ms=300), "load2b")  # this load, also submitted
    engine.submit(token, step.step_id, answer_for(step),
                  signals={**_counts(hidden=1, hidden_ms=400, blur=2, blur_ms=50), "page_load": "load2b"})
    response = _response(engine, token, step)
    assert response.signals == {"hidden_count": 2, "hidden_ms": 1300, "blur_count": 3, "blur_ms": 950}
    assert engine.repository.count_rows()["trial_signals"] == 0  # folded into the answer


def test_a_trial_submitted_without_counts_still_gets_the_kept_ones(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", checks=0), repo)
    token, step = _at_first_trial(engine)
    keep_signals(engine, token, step, _counts(hidden=2, hidden_ms=70), "load1a")
    engine.submit(token, step.step_id, answer_for(step), signals=None)
    assert _response(engine, token, step).signals == {"hidden_count": 2, "hidden_ms": 70, "blur_count": 0,
                                                      "blur_ms": 0}


def test_nothing_reported_stays_unknown(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", checks=0), repo)
    token, step = _at_first_trial(engine)
    engine.submit(token, step.step_id, answer_for(step), signals=None)
    assert set(_response(engine, token, step).signals.values()) == {None}


def test_a_late_report_for_an_answered_trial_and_other_steps_keep_nothing(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", checks=0), repo)
    token, step = _at_first_trial(engine)
    engine.submit(token, step.step_id, answer_for(step), signals={**_counts(), "page_load": "load1a"})
    keep_signals(engine, token, step, _counts(hidden=5), "load9z")  # a stale tab, after the answer
    keep_signals(engine, token, SimpleNamespace(trial=None), _counts(hidden=5), "load9z")
    keep_signals(engine, "x" * 32, step, _counts(hidden=5), "load9z")  # nobody's token
    assert engine.repository.count_rows()["trial_signals"] == 0


def test_withdrawal_deletes_the_kept_counts(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", checks=0), repo)
    token, step = _at_first_trial(engine)
    keep_signals(engine, token, step, _counts(hidden=1), "load1a")
    assert engine.repository.count_rows()["trial_signals"] == 1
    engine.withdraw(token)
    assert engine.repository.count_rows()["trial_signals"] == 0
