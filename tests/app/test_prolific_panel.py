"""The Researcher area's Prolific section (Progress page) in AppTest against the Prolific stand-in over real
HTTP: a change needs a dry run, then a ticked confirmation, then a click; the caps table and the consent page
of a full study."""

from __future__ import annotations

import os

import pytest
from recruit.prolific_standin import StandIn, serve

from app.drive import click, new_app, texts
from study_app.store import Repository, make_engine
from study_app.study.screening import PILOT_PARAM, pilot_key
from study_app.ui import state_keys

TOKEN = "panel-token-" + "x" * 20
TAIL = """
[recruitment]
prolific_study_id = "PS9"
unmatched = "return"
cap_total = 1
"""


@pytest.fixture
def prolific(monkeypatch):
    state = StandIn(token=TOKEN)
    server, url = serve(state)
    monkeypatch.setenv("XAI_STUDY_PROLIFIC_TOKEN", TOKEN)
    monkeypatch.setenv("XAI_STUDY_PROLIFIC_API_URL", url)
    yield state
    server.shutdown()
    server.server_close()


def _progress():
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    return at.switch_page("app_pages/researcher_progress.py").run()


def test_a_change_needs_a_dry_run_then_a_confirmation(setup_study, prolific):
    setup = setup_study("verification", tail=TAIL)
    stranger = prolific.add("PS9", "stranger")
    at = _progress()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="prolific_action").select("reject").run()
    at = click(at, "Dry run")
    assert "ask to return: 1" in at.code[-1].value and prolific.posts() == []
    go = next(b for b in at.button if b.key == "prolific_go")
    assert go.disabled  # not before the box is ticked
    at.checkbox(key="prolific_confirm_reject").check().run()
    next(b for b in at.button if b.key == "prolific_go").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert prolific.find(stranger["id"])["return_requested"]
    assert "sent 0 rejections and 1 return requests" in at.code[-1].value
    repo = Repository(make_engine(setup.db_url))
    try:
        entries = [(e.action, e.outcome, e.actor) for e in repo.audit_log() if e.action.startswith("prolific_")]
    finally:
        repo.dispose()
    assert entries == [("prolific_reject", "ok", "web"), ("prolific_reject", "dry_run", "web")]
    assert TOKEN not in texts(at) + "".join(c.value for c in at.code)


def test_the_caps_table_and_a_full_studys_consent_page(setup_study, prolific):
    setup_study("verification", tail=TAIL)
    at = new_app().run()
    assert "I agree" in " ".join(b.label for b in at.button)
    at = click(at, "I agree")  # the one place (cap_total = 1) is taken
    full = new_app().run()
    assert not [b for b in full.button if b.label.startswith("I agree")]
    assert "already has all the participants it needs" in texts(full)
    pilot = new_app({PILOT_PARAM: pilot_key(os.environ["XAI_STUDY_ID_KEY"].encode(), "test-verification")}).run()
    assert [b for b in pilot.button if b.label.startswith("I agree")]  # the pilot link is never turned away
    at = _progress()
    assert "Caps" in texts(at)
