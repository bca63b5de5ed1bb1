"""Identity, apart from the engine (``study_app.study.identity``): what a visitor brought is held in memory until
consent, bounded, and forgotten once they enrol or leave; tokens are checked before any lookup."""

from __future__ import annotations

import pytest

from study.kit import answer_for
from study_app.study import UnknownParticipantError, identity, normalise_external_ids

GOOD = {"PROLIFIC_PID": "5f0c0ffee0ddba11", "STUDY_ID": "study-1"}


def test_pending_ids_are_held_until_consent_then_dropped(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), sqlite_repo)
    ids = engine.identities
    token = engine.start_or_resume(None, external_ids=GOOD)
    assert ids.pending(token) == normalise_external_ids(GOOD)
    engine.submit(token, "consent", answer_for(engine.current_step(token)))
    assert not ids.pending(token), "the enrolment carried the ids; nothing stays in memory"
    stored = sqlite_repo.participant_by_token(token)
    assert stored.prolific_pid == ids.hash_external_id(GOOD["PROLIFIC_PID"]) == ids.stored_ids(
        {"prolific_pid": GOOD["PROLIFIC_PID"]})["prolific_pid"]


def test_a_visitor_who_declines_leaves_nothing_behind(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), sqlite_repo)
    token = engine.start_or_resume(None, external_ids=GOOD)
    assert engine.submit(token, "consent", {"agree": False}).kind == "declined"
    assert not engine.identities.pending(token)


def test_pending_ids_are_bounded_oldest_first(make_study, make_engine_for, sqlite_repo, monkeypatch):
    monkeypatch.setattr(identity, "MAX_PENDING", 3)
    engine = make_engine_for(make_study("verification", trials=2, checks=0), sqlite_repo)
    tokens = [engine.start_or_resume(None, external_ids={"STUDY_ID": f"s{i}"}) for i in range(5)]
    held = [bool(engine.identities.pending(t)) for t in tokens]
    assert held == [False, False, True, True, True]


@pytest.mark.parametrize("token", ["short", "x" * 65, "has spaces in it ok", None])
def test_a_malformed_token_is_refused_before_any_lookup(make_study, make_engine_for, sqlite_repo, token):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), sqlite_repo)
    with pytest.raises(UnknownParticipantError, match="malformed"):
        engine.identities.participant(token)
