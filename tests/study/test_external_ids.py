"""Prolific ids from the study link (issue 21, item 4): one unusable id never costs the usable ones, the
participant is flagged for the researcher (parameter and reason, never the value), a missing PROLIFIC_PID is
noted where the study returns participants to Prolific, and ``require_prolific_id`` admits nobody without one."""

from __future__ import annotations

import dataclasses

import pytest

from study.kit import answer_for, run_participant
from study_app.export import participant_rows
from study_app.study import normalise_external_ids
from study_app.study.quality import QualityRules

GOOD = {"PROLIFIC_PID": "5f0c0ffee0ddba11", "STUDY_ID": "study-1", "SESSION_ID": "session-1"}


@pytest.mark.parametrize(("bad", "reason"), [("x" * 129, "longer than 128"), ("a\x00b", "unprintable"),
                                             ("tab\tinside", "unprintable"), ("   ", "blank"), (12, "expected text")])
def test_an_unusable_id_is_refused_by_name_and_reason_and_the_others_kept(bad, reason):
    ids = normalise_external_ids({**GOOD, "SESSION_ID": bad})
    assert ids.ids == {"prolific_pid": GOOD["PROLIFIC_PID"], "prolific_study_id": "study-1"}
    assert list(ids.refused) == ["SESSION_ID"] and reason in ids.refused["SESSION_ID"]
    assert str(bad) not in str(ids.refused) or bad == 12


def test_ids_are_stripped_repeats_take_the_last_and_other_parameters_are_ignored():
    ids = normalise_external_ids({"PROLIFIC_PID": ["old", " new "], "STUDY_ID": "", "p": "token", "x": "y"})
    assert ids.ids == {"prolific_pid": "new"} and not ids.refused
    assert not normalise_external_ids(None) and not normalise_external_ids({"STUDY_ID": ""})
    assert normalise_external_ids({"x" * 0 + "STUDY_ID": "\x07"})  # a refusal alone is worth remembering


def _consent_notes(repo, engine, token):
    pid = repo.participant_by_token(token).id
    return next(e.detail for e in repo.events(engine.record.id, kind="consent") if e.participant_id == pid)


def _flags(repo, engine, token):
    public = repo.participant_by_token(token).public_id
    rows = participant_rows(repo, engine.record, rules=QualityRules.of(engine.study))
    return next(r for r in rows if r["participant"] == public)


def test_a_refused_id_keeps_the_valid_ones_and_flags_the_participant(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), repo)
    token, _ = run_participant(engine, external_ids={**GOOD, "SESSION_ID": "s" * 300})
    p = repo.participant_by_token(token)
    assert p.prolific_pid == engine.hash_external_id(GOOD["PROLIFIC_PID"])  # still matchable on Prolific
    assert p.prolific_study_id == engine.hash_external_id("study-1") and p.prolific_session_id is None
    notes = _consent_notes(repo, engine, token)
    assert notes["external_ids_refused"] == {"SESSION_ID": "longer than 128 characters"}
    assert "s" * 129 not in str(notes)  # never the value
    row = _flags(repo, engine, token)
    assert row["quality_flags"].split() == ["external_id_refused"] and row["external_ids_refused"] == "SESSION_ID"
    # Recognised again by the usable PROLIFIC_PID (a new browser, the same link).
    assert engine.start_or_resume(None, external_ids={**GOOD, "SESSION_ID": "s" * 300}) != token
    assert repo.participant_by_token(engine.start_or_resume(None, external_ids=GOOD)).id == p.id


def test_a_refusal_is_remembered_across_reloads_before_consent(make_study, make_engine_for, repo):
    """The page passes the link's ids on every run; a reload with only the token must not forget them."""
    engine = make_engine_for(make_study("verification", trials=2, checks=0), repo)
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": "a\x00b", "STUDY_ID": "study-1"})
    assert engine.start_or_resume(token) == token
    step = engine.submit(token, "consent", answer_for(engine.current_step(token)))
    assert step.kind != "consent"
    assert _consent_notes(repo, engine, token)["external_ids_refused"] == {
        "PROLIFIC_PID": "control or other unprintable characters"}
    assert set(_flags(repo, engine, token)["quality_flags"].split()) == {"external_id_refused", "no_prolific_id"}


def test_a_missing_prolific_id_is_flagged_only_where_the_study_returns_to_prolific(make_study, make_engine_for,
                                                                                  repo):
    study = make_study("verification", trials=2, checks=0)  # redirect_url on app.prolific.com
    engine = make_engine_for(study, repo)
    missing, _ = run_participant(engine)
    present, _ = run_participant(engine, external_ids=GOOD)
    assert _consent_notes(repo, engine, missing)["no_prolific_id"] is True
    assert _flags(repo, engine, missing)["quality_flags"] == "no_prolific_id"
    assert _flags(repo, engine, present)["quality_flags"] == ""

    lab = dataclasses.replace(study, id="lab-study", redirect_url=None)  # no recruiter: nobody to match
    lab_engine = make_engine_for(lab, repo)
    token, _ = run_participant(lab_engine)
    assert "no_prolific_id" not in _consent_notes(repo, lab_engine, token)
    assert _flags(repo, lab_engine, token)["quality_flags"] == ""


def test_require_prolific_id_admits_nobody_without_a_usable_one(make_study, make_engine_for, repo):
    study = dataclasses.replace(make_study("verification", trials=2, checks=0), require_prolific_id=True)
    engine = make_engine_for(study, repo)
    for given in (None, {"PROLIFIC_PID": "x" * 200, "STUDY_ID": "study-1"}):
        token = engine.start_or_resume(None, external_ids=given)
        assert engine.submit(token, "consent", {"agree": True}).kind == "consent"
        assert repo.participant_by_token(token) is None
    assert normalise_external_ids(None).lack_required_id(study)
    assert not normalise_external_ids(None).lack_required_id(study, pilot=True)  # the researcher's pilot link
    token, _ = run_participant(engine, external_ids=GOOD)
    assert repo.participant_by_token(token).status == "completed"
    pilot = engine.start_or_resume(None)
    assert engine.submit(pilot, "consent", {"agree": True}, pilot=True).kind != "consent"
    assert "no_prolific_id" not in _consent_notes(repo, engine, pilot)
