"""``xai-study prolific`` end to end: participants go through the real engine with Prolific ids (hashed under
the id key), Prolific is the stand-in over real HTTP, and each action is checked against what the stand-in
received, what the database holds and what the audit log says. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import os
import random
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from study.kit import answer_for, predictions_for, run_participant, write_study

from study_app import cli
from study_app.recruit.actions import ProlificActions, load_holdings
from study_app.recruit.prolific_api import ProlificClient
from study_app.recruit.reconcile import correct_final_answers, reconcile
from study_app.store.logs import cli_actor
from study_app.study import StudyEngine, load_study
from study_app.study.id_key import key_from_text

from .conftest import TOKEN

PS = "STUDY1"
REJECT_MESSAGE = ("We could not find your answers in our study: you did not reach the consent page through our "
                  "link, so there is nothing of yours we could pay for.")
RECRUITMENT = f"""
[recruitment]
prolific_study_id = "{PS}"
bonus_per_correct = 0.25
screened_out = "return"
no_consent = "return"
unmatched = "reject"
reject_message = "{REJECT_MESSAGE}"
reject_category = "NO_CODE"
"""


def _study_file(tmp_path, checkpoint_dir, stimuli_dir, tail=RECRUITMENT):
    path = write_study(tmp_path / "studies", "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                       trials=3, checks=1, tail=tail)
    text = path.read_text().replace('completion_code = "DONE-42"\n',
                                    'completion_code = "DONE-42"\nno_consent_code = "NOCONS"\n')
    path.write_text(text)
    return path


def _ids(pid, submission):
    return {"PROLIFIC_PID": pid, "STUDY_ID": PS, "SESSION_ID": submission["id"]}


def _consent(engine, pid, submission, *, pilot=False):
    token = engine.start_or_resume(None, external_ids=_ids(pid, submission))
    step = engine.submit(token, "consent", answer_for(engine.current_step(token)), pilot=pilot)
    assert step.kind != "consent"
    return token


@pytest.fixture
def world(tmp_path, checkpoint_dir, stimuli_dir, repo, clock, prolific):
    """Two completed participants, one abandoned (active), one screened out, one pilot, one withdrawn; on
    Prolific also a no-consent submission and a stranger's."""
    state, url = prolific
    path = _study_file(tmp_path, checkpoint_dir, stimuli_dir)
    study = load_study(path)
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    subs = {pid: state.add(PS, pid) for pid in ("done1", "done2", "gone", "screened", "pilot", "left")}
    subs["nocons"] = state.add(PS, "nocons", study_code="NOCONS")
    subs["stranger"] = state.add(PS, "stranger", study_code=None)
    for i, pid in enumerate(("done1", "done2")):
        run_participant(engine, random.Random(i), external_ids=_ids(pid, subs[pid]), clock=clock)
    _consent(engine, "gone", subs["gone"])
    screened = repo.participant_by_token(_consent(engine, "screened", subs["screened"]))
    repo.screen_out(screened.id, study_id=engine.record.id, now=clock(), reason={"rule": "test"})
    _consent(engine, "pilot", subs["pilot"], pilot=True)
    engine.withdraw(_consent(engine, "left", subs["left"]))
    key = key_from_text(os.environ["XAI_STUDY_ID_KEY"], "environment")
    actions = ProlificActions(study, repo, ProlificClient(TOKEN, url, sleep=lambda s: None), key, actor="test")
    return SimpleNamespace(state=state, url=url, path=path, study=study, engine=engine, subs=subs, repo=repo,
                           actions=actions, clock=clock)


def _outcomes(report):
    return {s.prolific_pid: s.outcome for s in report.submissions}


def _audit(repo, action):
    return [e for e in repo.audit_log() if e.action == f"prolific_{action}"]


def test_status_names_our_outcome_for_every_submission(world):
    report = world.actions.run("status")
    assert _outcomes(report) == {"done1": "completed", "done2": "completed", "gone": "active",
                                 "screened": "screened_out", "pilot": "pilot", "left": "withdrawn",
                                 "nocons": "no_consent", "stranger": "unmatched"}
    assert world.state.posts() == []  # status sends nothing
    entry, = _audit(world.repo, "status")
    assert entry.outcome == "ok" and entry.detail["outcomes"]["completed"] == 2


def test_approve_is_a_dry_run_until_confirmed(world):
    dry = world.actions.run("approve")
    assert dry.dry_run and dry.planned == 2 and dry.done == 0 and world.state.posts() == []
    assert any("dry run" in line for line in dry.lines)
    assert _audit(world.repo, "approve")[0].outcome == "dry_run"
    done = world.actions.run("approve", confirm=True)
    assert done.done == 2
    statuses = {s["participant_id"]: s["status"] for s in world.state.submissions[PS]}
    assert statuses["done1"] == statuses["done2"] == "APPROVED"
    assert {pid for pid, status in statuses.items() if status == "APPROVED"} == {"done1", "done2"}
    entry = _audit(world.repo, "approve")[0]  # newest first
    completed = {p.public_id for p in world.repo.participants(world.engine.record.id) if p.status == "completed"}
    assert entry.outcome == "ok" and set(entry.detail["participants"]) == completed
    assert world.actions.run("approve", confirm=True).planned == 0  # nothing left awaiting review


def test_reject_and_return_follow_the_study_files_rules(world):
    assert world.actions.run("reject").dry_run and world.state.posts() == []
    report = world.actions.run("reject", confirm=True)
    assert report.done == report.planned == 4
    by_pid = {s["participant_id"]: s for s in world.state.submissions[PS]}
    assert by_pid["stranger"]["status"] == "REJECTED"  # unmatched = "reject"
    returned = {pid for pid, s in by_pid.items() if s["return_requested"]}
    assert returned == {"screened", "nocons", "left"}  # a withdrawal is asked to return, never rejected
    rejection = world.state.posts(f"/api/v1/submissions/{by_pid['stranger']['id']}/transition/")[0][1]
    assert rejection == {"action": "REJECT", "message": REJECT_MESSAGE, "rejection_category": "NO_CODE"}
    for pid in ("done1", "done2", "gone", "pilot"):
        assert by_pid[pid]["status"] == "AWAITING REVIEW" and not by_pid[pid]["return_requested"]


def test_bonus_pays_per_correct_final_answer_once(world):
    assert world.actions.run("bonus").dry_run and world.state.paid == []
    answers = list(world.repo.responses(world.engine.record.id))
    participants = {p.id: p for p in world.repo.participants(world.engine.record.id)}
    listed = world.actions.submissions()
    by_token_pid = {pid: next(s.participant.id for s in listed if s.prolific_pid == pid) for pid in ("done1", "done2")}
    # verification trials have one scored phase each: the final answer is the only one
    expected = {pid: round(0.25 * sum(1 for r in answers if r.participant_id == pk and not r.is_attention_check
                                      and r.correct), 2) for pid, pk in by_token_pid.items()}
    assert all(participants[pk].status == "completed" for pk in by_token_pid.values())
    assert sum(v > 0 for v in expected.values()) >= 1  # the run pays someone (the seeds answer some trials right)
    report = world.actions.run("bonus", confirm=True)
    paid = {pid: amount for pid, amount in world.state.paid}
    assert paid == {pid: amount for pid, amount in expected.items() if amount > 0}
    assert report.done == len(paid)
    again = world.actions.run("bonus", confirm=True)
    assert again.planned == 0 and len(world.state.posts("/api/v1/bulk-bonus-payments/")) == (1 if paid else 0)


def test_sync_marks_returned_participants_and_frees_their_slot(world):
    gone = next(s for s in world.state.submissions[PS] if s["participant_id"] == "gone")
    gone["status"] = "RETURNED"
    before = sum(world.engine.condition_counts().values())
    assert world.actions.run("sync").planned == 1 and sum(world.engine.condition_counts().values()) == before
    report = world.actions.run("sync", confirm=True)
    assert report.done == 1
    statuses = {s.prolific_pid: (s.participant.status if s.participant else None) for s in world.actions.submissions()}
    assert statuses["gone"] == "returned"
    assert sum(world.engine.condition_counts().values()) == before - 1
    events = world.repo.events(world.engine.record.id, "recruiter_status")
    assert [e.detail["status"] for e in events] == ["returned"]
    assert world.actions.run("sync", confirm=True).planned == 0


def test_correct_final_answers_counts_each_trials_last_scored_phase():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def r(pid, trial, minute, correct, check=False):
        return SimpleNamespace(participant_id=pid, trial_index=trial, answered_at=t0 + dt.timedelta(minutes=minute),
                               correct=correct, is_attention_check=check)

    rows = [r(1, 0, 1, False), r(1, 0, 2, True),  # first answer wrong, final answer right: 1
            r(1, 1, 3, True), r(1, 1, 4, False),  # first right, final wrong: 0
            r(1, 2, 5, True, check=True),  # an attention check never counts
            r(1, 3, 6, True), r(1, 3, 7, None),  # an unscored later phase leaves the scored one final: 1
            r(2, 0, 1, True)]
    assert correct_final_answers(rows) == {1: 2, 2: 1}


def test_matching_needs_the_right_id_key(world):
    holdings = load_holdings(world.repo, world.study, key_from_text("some-other-key", "test"))
    raw = list(world.actions.client.submissions(PS))
    outcomes = {s.prolific_pid: s.outcome for s in reconcile(world.study, holdings, raw)}
    assert outcomes["done1"] == "unmatched" and outcomes["nocons"] == "no_consent"


def test_the_command_line_never_shows_stores_or_logs_the_token(world, monkeypatch, capsys, caplog):
    monkeypatch.setenv("XAI_STUDY_PROLIFIC_TOKEN", TOKEN)
    db = world.repo.engine.url.render_as_string(hide_password=False)
    caplog.set_level("DEBUG")
    base = ["prolific", "--study", str(world.path), "--db", db, "--api-url", world.url]
    for action in ("status", "approve", "reject", "bonus", "sync"):
        assert cli.main([*base[:1], action, *base[1:], "--yes"] if action != "status" else
                        [base[0], action, *base[1:]]) == 0
    out, err = capsys.readouterr()
    assert "completed" in out and "sent 2 approvals" in out
    assert all(h.get("Authorization") == f"Token {TOKEN}" for *_, h in world.state.requests)
    texts = [out, err, caplog.text]
    with world.repo.engine.connect() as conn:
        for table in sa.inspect(conn).get_table_names():
            texts.extend(str(row) for row in conn.execute(sa.text(f'SELECT * FROM "{table}"')))
    texts.extend(str(e.detail) for e in world.repo.audit_log())
    assert not [t for t in texts if "s3cr3t" in t]
    actors = {e.actor for e in world.repo.audit_log() if e.action.startswith("prolific_")}
    assert actors == {cli_actor()}


def test_the_command_line_says_what_is_wrong_in_one_line(world, monkeypatch, capsys):
    db = world.repo.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("XAI_STUDY_PROLIFIC_TOKEN", "not-the-token")
    assert cli.main(["prolific", "status", "--study", str(world.path), "--db", db, "--api-url", world.url]) == 1
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "HTTP 401" in err and "not-the-token" not in err
    monkeypatch.delenv("XAI_STUDY_PROLIFIC_TOKEN")
    monkeypatch.chdir(world.path.parent)  # no secrets.toml here
    assert cli.main(["prolific", "status", "--study", str(world.path), "--db", db]) == 1
    assert "no Prolific API token" in capsys.readouterr().err


def test_the_participants_export_carries_submission_status_and_bonus_paid(world):
    from study_app.export.participant_rows import participant_rows

    def exported():
        return {r["participant"]: (r["prolific_submission_status"], r["prolific_bonus_paid"])
                for r in participant_rows(world.repo, world.engine.record)}

    world.actions.run("approve")  # a dry run writes nothing
    assert set(exported().values()) == {(None, None)}
    world.actions.run("approve", confirm=True)
    world.actions.run("bonus", confirm=True)
    paid = dict(world.state.paid)
    listed = {s.prolific_pid: s for s in world.actions.submissions()}
    rows = exported()
    for pid in ("done1", "done2"):
        assert rows[listed[pid].public_id] == ("APPROVED", f"{paid.get(pid, 0):.2f}")
    assert rows[listed["gone"].public_id] == ("AWAITING REVIEW", "0.00")
    assert rows[listed["screened"].public_id] == ("AWAITING REVIEW", "0.00")
    gone = listed["gone"].participant
    assert gone.id in world.repo.prolific_submissions([gone.id])
    world.repo.withdraw(gone.id, world.clock())  # a withdrawal deletes this row with the rest
    assert world.repo.prolific_submissions([gone.id]) == {}
