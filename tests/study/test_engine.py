"""The participant state machine against a real database (SQLite here; PostgreSQL where marked)."""

from __future__ import annotations

import random
from collections import Counter
from types import SimpleNamespace

import pytest
from sqlalchemy import event

from study.kit import FakeClock, answer_for, run_participant
from study_app.study import AnswerError, UnknownParticipantError

PROTOCOLS = ["rate", "forward_simulation", "verification", "distinction", "decision"]


def _trial_steps(steps):
    return [s for s in steps if s.kind == "trial"]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_simulated_participant_completes_each_protocol(protocol, make_study, make_engine_for, repo):
    study = make_study(protocol, trials=4, checks=1)
    engine = make_engine_for(study, repo)
    token, steps = run_participant(engine, random.Random(3), clock=engine.clock)

    kinds = [s.kind for s in steps]
    assert kinds[:3] == ["consent", "pre_questionnaire", "instructions"]
    assert kinds[-1] == "done"
    assert steps[-1].completion_code == "DONE-42"
    assert steps[-1].redirect_url.endswith("cc=DONE-42")
    trials = _trial_steps(steps)
    expected_trials = 4 + 1 + (4 if protocol == "forward_simulation" else 0)
    assert len({s.trial.index for s in trials}) == expected_trials
    assert all(s.trial.total == expected_trials for s in trials)
    assert sum(s.trial.is_attention_check for s in trials) == 1
    rows = repo.count_rows()
    assert rows["participants"] == 1
    # one response per trial phase served, all stored
    assert rows["responses"] == len(trials)
    assert rows["questionnaire_answers"] == 3 + (len(steps[-2].questions) if kinds[-2] == "post_questionnaire" else 0)
    stored = list(repo.responses(engine.record.id))
    assert all(r.response_time_ms == 2000 for r in stored)  # the fake clock advanced 2 s per answer
    checks = [r for r in stored if r.is_attention_check]
    assert len(checks) == 1 and checks[0].attention_passed is True


def test_protocol_specific_content(make_study, make_engine_for, sqlite_repo):
    """What each protocol shows and hides, as the papers define the tasks."""
    for protocol in PROTOCOLS:
        study = make_study(protocol, trials=4, checks=0)
        engine = make_engine_for(study, sqlite_repo)
        _, steps = run_participant(engine, random.Random(1))
        trials = [s.trial for s in _trial_steps(steps)]
        if protocol == "rate":
            trust = [t for t in trials if t.phase == "trust"]
            assert all(t.methods == () and len(t.prediction.topk) == 2 for t in trust)  # top-3 of 2 classes
            expl = [t for t in trials if t.phase == "explanation"]
            assert len(expl) == len(trust) and all(len(t.methods) == 1 for t in expl)
        elif protocol == "forward_simulation":
            learn = [t for t in trials if t.phase == "learn"]
            predict = [t for t in trials if t.phase == "predict"]
            assert len(learn) == 4 and len(predict) == 4
            assert trials[:4] == learn  # all learning before any test item
            assert all(t.prediction is not None and t.methods for t in learn)
            assert all(t.prediction is None and t.methods == () for t in predict)
            assert not {t.image_id for t in learn} & {t.image_id for t in predict}
            assert all(set(t.options) == {"cat", "dog"} for t in predict)
        elif protocol == "verification":
            assert all(len(t.prediction.topk) == 1 and len(t.methods) == 1 for t in trials)
            assert all(t.true_label is None for t in trials)  # it is the answer
        elif protocol == "decision":  # no advice before the own answer; tests/study/test_decision.py has more
            assert all(t.prediction is None and t.methods == () for t in trials if t.phase == "initial")
            assert all(t.true_label is None and set(t.options) == {"cat", "dog"} for t in trials)
        else:
            assert all(t.prediction is None for t in trials)
            for t in trials:
                assert sorted(t.options) == ["cat", "dog"]
                assert sorted(m.target for m in t.methods) == ["cat", "dog"]
                assert len({m.key for m in t.methods}) == 1


def test_resume_continues_where_left_off_and_plan_is_stable(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("verification", trials=4)
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume()
    step = engine.current_step(token)
    for _ in range(5):
        step = engine.submit(token, step.step_id, answer_for(step))
    assert step.kind == "trial"
    # A new engine (server restart) on the same database resumes the same step with the same trial.
    engine2 = make_engine_for(study, sqlite_repo)
    assert engine2.start_or_resume(token) == token
    again = engine2.current_step(token)
    assert again == step


def test_stale_and_duplicate_submits_change_nothing(make_study, make_engine_for, sqlite_repo, clock):
    study = make_study("verification", trials=4, checks=0)
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume()
    step = engine.current_step(token)
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step))
    first = step
    answer = {"decision": "accept", "confidence": 3}
    second = engine.submit(token, first.step_id, answer)
    before = sqlite_repo.count_rows()
    # duplicate of the same answer (double click), a different answer to the old step, a future step
    assert engine.submit(token, first.step_id, answer) == second
    assert engine.submit(token, first.step_id, {"decision": "reject", "confidence": 1}) == second
    assert engine.submit(token, "trial:3/main", answer) == second
    assert engine.submit(token, "consent", {"agree": True}) == second
    assert engine.submit(token, "no-such-step", {"anything": 1}) == second
    assert sqlite_repo.count_rows() == before
    stored = list(sqlite_repo.responses(engine.record.id))
    assert [r.answer for r in stored] == [answer]


def test_finished_participant_adds_no_rows(make_study, make_engine_for, sqlite_repo):
    study = make_study("distinction", trials=3)
    engine = make_engine_for(study, sqlite_repo)
    token, steps = run_participant(engine)
    before = sqlite_repo.count_rows()
    for step in steps:
        assert engine.submit(token, step.step_id, answer_for(step)).kind == "done"
    assert engine.current_step(token).kind == "done"
    assert engine.start_or_resume(token) == token
    assert sqlite_repo.count_rows() == before


def test_invalid_answers_name_the_field_and_store_nothing(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification", trials=3, checks=0)
    engine = make_engine_for(study, sqlite_repo)
    token = engine.start_or_resume()
    with pytest.raises(AnswerError, match="agree"):
        engine.submit(token, "consent", {"agree": "yes"})
    step = engine.submit(token, "consent", {"agree": True})
    with pytest.raises(AnswerError, match="age_band") as err:
        engine.submit(token, step.step_id, {"ml_experience": "none", "domain_expertise": 3})
    assert err.value.field == "age_band"
    with pytest.raises(AnswerError, match="domain_expertise"):
        engine.submit(token, step.step_id, {"age_band": "18-24", "ml_experience": "none", "domain_expertise": 9})
    with pytest.raises(AnswerError, match="shoe_size"):
        engine.submit(token, step.step_id, {**answer_for(step), "shoe_size": 42})
    step = engine.submit(token, step.step_id, answer_for(step))
    step = engine.submit(token, step.step_id, {})
    assert step.kind == "trial"
    before = sqlite_repo.count_rows()
    for bad, field in [({"decision": "maybe", "confidence": 3}, "decision"),
                       ({"decision": "accept", "confidence": 0}, "confidence"),
                       ({"decision": "accept", "confidence": True}, "confidence"),
                       ({"decision": "accept", "confidence": 3, "comment": "x" * 10_001}, "comment"),
                       ("accept", "")]:
        with pytest.raises(AnswerError) as err:
            engine.submit(token, step.step_id, bad)
        assert err.value.field == field
    assert sqlite_repo.count_rows() == before
    assert engine.current_step(token) == step


def test_nothing_is_stored_before_consent_and_declining_stores_nothing(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("rate", trials=2), sqlite_repo)
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": "abc123"})
    assert engine.current_step(token).kind == "consent"
    # answering a later step first is ignored
    assert engine.submit(token, "instructions", {}).kind == "consent"
    assert sqlite_repo.count_rows()["participants"] == 0
    assert engine.submit(token, "consent", {"agree": False}).kind == "declined"
    rows = sqlite_repo.count_rows()
    assert rows["participants"] == rows["events"] == rows["responses"] == 0
    # consenting writes the consent event and the participant together, consent first in the log
    token2 = engine.start_or_resume(None)
    engine.submit(token2, "consent", {"agree": True})
    events = sqlite_repo.events(engine.record.id)
    assert [e.kind for e in events] == ["consent"]


def test_withdrawal_deletes_data_and_logs_it(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", trials=3), repo)
    keep_token, _ = run_participant(engine, random.Random(5))
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": "leaver"})
    step = engine.current_step(token)
    for _ in range(6):
        step = engine.submit(token, step.step_id, answer_for(step))
    before = repo.count_rows()
    participant = repo.participant_by_token(token)
    assert engine.withdraw(token).kind == "withdrawn"
    after = repo.count_rows()
    assert repo.participant_by_token(token) is None
    assert after["participants"] == before["participants"] - 1
    assert after["assignments"] == before["assignments"] - 1
    assert after["responses"] == 3 + 1  # the other participant's trials (3 + attention check) remain
    events = repo.events(engine.record.id)
    assert [e for e in events if e.participant_id == participant.id] == []  # consent, answers: all gone
    (withdrawal,) = [e for e in events if e.kind == "withdrawal"]
    assert withdrawal.participant_id is None  # no later deletion by participant id can reach it
    assert withdrawal.detail["participant"] == participant.public_id  # to clean files exported before
    assert withdrawal.detail["deleted"]["responses"] == 3
    assert "leaver" not in str(withdrawal.detail)
    # the token now starts afresh; the other participant is untouched
    assert engine.current_step(token).kind == "consent"
    assert engine.current_step(keep_token).kind == "done"


def test_server_side_timing_uses_first_serve(make_study, make_engine_for, sqlite_repo, clock):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), sqlite_repo)
    token = engine.start_or_resume()
    step = engine.current_step(token)
    while step.kind != "trial":
        step = engine.submit(token, step.step_id, answer_for(step))
    clock.advance(seconds=3)
    engine.current_step(token)  # a reload must not restart the clock
    clock.advance(milliseconds=1500)
    engine.submit(token, step.step_id, {"decision": "reject", "confidence": 2})
    (response,) = list(sqlite_repo.responses(engine.record.id))
    assert response.response_time_ms == 4500
    assert response.answered_at - response.shown_at == clock.now - response.shown_at


def test_prolific_ids_hmac_by_default_and_resume_by_pid(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("verification", trials=2), sqlite_repo)
    ids = {"PROLIFIC_PID": "5f1e0c9a8b7d6e5f4a3b2c1d", "STUDY_ID": "s1", "SESSION_ID": "x9", "other": "ignored"}
    token = engine.start_or_resume(None, external_ids=ids)
    engine.submit(token, "consent", {"agree": True})
    p = sqlite_repo.participant_by_token(token)
    assert p.external_ids_hashed
    assert p.prolific_pid == engine.hash_external_id(ids["PROLIFIC_PID"]) != ids["PROLIFIC_PID"]
    assert p.prolific_session_id == engine.hash_external_id("x9")
    # a new browser (no token) with the same PROLIFIC_PID resumes the same participant, under a new token:
    # only token hashes are stored, so the old token cannot be handed back
    again = engine.start_or_resume(None, external_ids=ids)
    assert again != token and sqlite_repo.participant_by_token(again).id == p.id
    assert sqlite_repo.participant_by_token(token) is None  # one browser holds the session at a time
    assert engine.start_or_resume("A" * 32, external_ids=ids) == "A" * 32  # a browser's own token is adopted
    assert sqlite_repo.participant_by_token("A" * 32).id == p.id
    assert engine.start_or_resume("A" * 32, external_ids=ids) == "A" * 32  # and then simply resumes


def test_prolific_ids_kept_verbatim_when_the_study_says_so(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", trials=2, keep=True), repo)
    evil = "1'; DROP TABLE responses;--"
    token, _ = run_participant(engine, external_ids={"PROLIFIC_PID": evil, "STUDY_ID": evil})
    p = repo.participant_by_token(token)
    assert p.prolific_pid == p.prolific_study_id == evil and not p.external_ids_hashed
    assert repo.count_rows()["responses"] == 3  # the table is still there, with this participant's rows
    again = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": evil})
    assert repo.participant_by_token(again).id == p.id


@pytest.mark.parametrize("bad", ["", "x" * 200, "a\x00b", "tab\tinside", 12])
def test_unusable_external_ids_are_dropped_and_noted_naming_the_parameter(bad, make_study, make_engine_for,
                                                                          sqlite_repo):
    """Refused, not raised: the usable ids stay (tests/study/test_external_ids.py has the details)."""
    engine = make_engine_for(make_study("verification", trials=2), sqlite_repo)
    token, _ = run_participant(engine, external_ids={"PROLIFIC_PID": bad, "STUDY_ID": "study-1"})
    p = sqlite_repo.participant_by_token(token)
    assert p.prolific_pid is None and p.prolific_study_id == engine.hash_external_id("study-1")
    consent = [e.detail for e in sqlite_repo.events(engine.record.id, kind="consent")]
    assert [sorted(d.get("external_ids_refused", {})) for d in consent] == [[] if bad == "" else ["PROLIFIC_PID"]]


def test_injection_like_tokens_are_rejected_without_touching_the_database(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("verification", trials=2), sqlite_repo)
    evil = "1'; DROP TABLE responses;--"
    with pytest.raises(UnknownParticipantError):
        engine.current_step(evil)
    with pytest.raises(UnknownParticipantError):
        engine.submit(evil, "consent", {"agree": True})
    # start_or_resume ignores a malformed token and issues a fresh one
    token = engine.start_or_resume(evil)
    assert token != evil
    run_participant(engine)
    assert sqlite_repo.count_rows()["responses"] > 0


def test_slot_of_inactive_participant_is_reassigned_after_timeout(make_study, make_engine_for, repo, clock):
    """Between design with 2 conditions: a walker-away frees their slot only after the timeout."""
    study = make_study("verification", trials=2, design="between")  # arms: gradcam, integrated_gradients
    engine = make_engine_for(study, repo)

    def enrol():
        token = engine.start_or_resume()
        engine.submit(token, "consent", {"agree": True})
        return repo.participant_by_token(token).condition

    finisher_token, _ = run_participant(engine)  # completed: counts forever
    assert repo.participant_by_token(finisher_token).condition == 0
    assert enrol() == 1  # active, then walks away
    clock.advance(minutes=29)
    assert engine.condition_counts() == {"gradcam": 1, "integrated_gradients": 1}
    assert enrol() == 0  # within the timeout both slots are held: balanced fill continues
    clock.advance(minutes=31)  # the condition-1 walker has now been inactive for 60 min, the other for 31
    assert engine.condition_counts() == {"gradcam": 1, "integrated_gradients": 0}
    assert enrol() == 1  # the freed slot goes to the next newcomer
    assert engine.condition_counts() == {"gradcam": 1, "integrated_gradients": 1}


def test_activity_keeps_a_slot(make_study, make_engine_for, sqlite_repo, clock):
    engine = make_engine_for(make_study("verification", trials=2, design="between"), sqlite_repo)
    slow = engine.start_or_resume()
    engine.submit(slow, "consent", {"agree": True})
    for _ in range(3):
        clock.advance(minutes=20)
        engine.current_step(slow)  # still working, just slowly
    assert engine.condition_counts() == {"gradcam": 1, "integrated_gradients": 0}


def test_engine_refuses_tokens_of_another_study_version(make_study, make_engine_for, sqlite_repo):
    a = make_engine_for(make_study("verification", trials=2, sid="one"), sqlite_repo)
    b = make_engine_for(make_study("verification", trials=2, sid="two"), sqlite_repo)
    token, _ = run_participant(a)
    with pytest.raises(UnknownParticipantError, match="another study"):
        b.current_step(token)
    assert b.start_or_resume(token) != token


def test_naive_clock_is_refused(make_study, make_engine_for, sqlite_repo):
    import datetime as dt

    with pytest.raises(ValueError, match="timezone-aware"):
        make_engine_for(make_study("verification", trials=2), sqlite_repo, clock=lambda: dt.datetime(2026, 1, 1))


def test_fake_clock_is_independent_per_engine(make_study, make_engine_for, sqlite_repo):
    clock = FakeClock()
    engine = make_engine_for(make_study("verification", trials=2), sqlite_repo, clock=clock)
    token, _ = run_participant(engine, clock=clock)
    p = sqlite_repo.participant_by_token(token)
    assert p.completed_at > p.consented_at


def test_hmac_key_comes_from_outside_the_database(make_study, make_engine_for, sqlite_repo, monkeypatch):
    import hashlib
    import hmac

    from study_app.study.id_key import IdKey

    monkeypatch.setenv("XAI_STUDY_ID_KEY", "from-the-environment")
    v1 = make_engine_for(make_study("verification", trials=2, sid="keyed"), sqlite_repo)
    v2 = make_engine_for(make_study("verification", trials=3, sid="keyed"), sqlite_repo)
    assert v1.record.id != v2.record.id
    expected = hmac.new(b"from-the-environment", b"P1", hashlib.sha256).hexdigest()
    assert v1.hash_external_id("P1") == v2.hash_external_id("P1") == expected
    assert v1.id_key_source == "environment"
    assert all(s.id_key is None for s in sqlite_repo.studies())  # nothing secret in the database
    assert make_engine_for(v1.study, sqlite_repo, id_key=b"explicit").hash_external_id("P1") != expected
    # The documented option for older databases: the key kept with the study, shared by its versions.
    db1 = make_engine_for(make_study("verification", trials=2, sid="old"), sqlite_repo, id_key=IdKey(None, "database"))
    db2 = make_engine_for(make_study("verification", trials=3, sid="old"), sqlite_repo, id_key=IdKey(None, "database"))
    assert db1.hash_external_id("P1") == db2.hash_external_id("P1") != expected
    assert db1.record.id_key is not None and db1.id_key_source == "database"


def test_engine_and_store_never_import_streamlit():
    """The engine is plain Python: importing every module of both packages must not pull in Streamlit."""
    import subprocess
    import sys

    code = (
        "import sys, pkgutil, importlib, study_app.study, study_app.store\n"
        "for pkg in (study_app.study, study_app.store):\n"
        "    for m in pkgutil.iter_modules(pkg.__path__):\n"
        "        importlib.import_module(f'{pkg.__name__}.{m.name}')\n"
        "print('streamlit' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def _count_statements(engine) -> Counter:
    """SELECT / write statements and transactions the repository's engine runs, by kind."""
    counts: Counter = Counter()

    def before(conn, cursor, statement, *args):
        verb = statement.lstrip().split(None, 1)[0].upper()
        counts["select" if verb == "SELECT" else "write" if verb in ("INSERT", "UPDATE", "DELETE") else verb] += 1

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "begin", lambda conn: counts.update(["transactions"]))
    return counts


def test_a_click_reads_the_participant_once_per_request_and_writes_once(make_study, make_engine_for,
                                                                         sqlite_repo, clock):
    """One participant click is the submit (in the button's callback) and the page that follows
    (``resume``). Together they read the participant twice and write in one transaction; before, the pair
    ran six reads and two write transactions (a second for marking the next step as shown). What the next
    trial shows is recorded in that same write transaction."""

    class Served:  # a map server: the PNG hash it hands out is what gets recorded
        def serve_step(self, step):
            return [SimpleNamespace(png_sha256=f"png:{step.step_id}", cache_key=m.cache_key, map_sha256="m",
                                    checkpoint_sha256="c", faithfulness=None) for m in step.maps]

    study = make_study("verification", trials=4, checks=0)
    engine = make_engine_for(study, sqlite_repo, maps=Served())
    token, step = engine.resume(None)
    for _ in range(4):  # consent, questionnaire, instructions: onto the first trial
        step = engine.submit(token, step.step_id, answer_for(step))
        token, step = engine.resume(token)
    assert step.kind == "trial"
    clock.advance(seconds=3)
    counts = _count_statements(sqlite_repo.engine)
    following = engine.submit(token, step.step_id, answer_for(step))
    _, shown = engine.resume(token)
    assert shown == following and shown.kind == "trial" and shown.step_id != step.step_id
    participant_reads = counts["select"] - 1  # the advance's own locked read of the stage
    assert participant_reads == 2, counts
    assert counts["transactions"] == 3, counts  # read, write (answer + next stage shown + its record), read
    recorded = {(r.trial_index, r.phase): r for r in sqlite_repo.shown_trials(engine.record.id)}
    assert recorded[(shown.trial.index, shown.trial.phase)].maps[0].png_sha256 == f"png:{shown.step_id}"
    # The next stage's clock started with the click: its answer gets a response time from it.
    clock.advance(seconds=5)
    engine.submit(token, shown.step_id, answer_for(shown))
    latest = max(sqlite_repo.responses(engine.record.id), key=lambda r: r.trial_index)
    assert latest.response_time_ms == 5000


def test_resume_equals_start_or_resume_then_current_step(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification", trials=2, checks=0)
    engine = make_engine_for(study, sqlite_repo)
    token, step = engine.resume(None, external_ids={"PROLIFIC_PID": "abc"})
    assert step.kind == "consent" and token == engine.start_or_resume(token)
    step = engine.submit(token, step.step_id, {"agree": True})
    # A Prolific id already enrolled wins over a fresh browser token, as with start_or_resume: the
    # browser's token becomes the participant's.
    again, shown = engine.resume("x" * 24, external_ids={"PROLIFIC_PID": "abc"})
    assert again == "x" * 24 and shown == engine.current_step(again) == step
