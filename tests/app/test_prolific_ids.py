"""The participant page and the study link's Prolific ids (issue 21, item 4), in AppTest: a study that requires a
PROLIFIC_PID turns a visitor without one away politely (in the study's language, no consent offered), and an
unusable id in the link keeps the usable ones, says so once, and flags the participant for the researcher."""

from __future__ import annotations

from app.conftest import stored_responses
from app.drive import current_kind, new_app, run_to_end, texts
from study_app.export import participant_rows
from study_app.store import Repository, make_engine
from study_app.study import load_study, normalise_external_ids
from study_app.study.screening import PILOT_PARAM, pilot_key

GOOD = {"PROLIFIC_PID": "5f0c0ffee0ddba11", "STUDY_ID": "study-1", "SESSION_ID": "session-1"}
NOTICE = "carries an unreadable participant id"


def _with_study_keys(setup, **keys):
    """Add ``[study]`` keys to the test study file (the kit writes none of these)."""
    lines = "".join(f"{k} = {v}\n" for k, v in keys.items())
    text = setup.study_file.read_text(encoding="utf-8").replace("[study]\n", f"[study]\n{lines}", 1)
    setup.study_file.write_text(text, encoding="utf-8")
    return setup


def _participants(setup):
    repo = Repository(make_engine(setup.db_url))
    try:
        (study,) = repo.studies()
        return repo, study, participant_rows(repo, study)
    except Exception:
        repo.dispose()
        raise


def test_require_prolific_id_turns_a_visitor_without_one_away_politely(setup_study):
    setup = _with_study_keys(setup_study("verification"), require_prolific_id="true")
    for query in ({}, {"PROLIFIC_PID": "x" * 200, "STUDY_ID": "study-1"}):
        at = new_app(query).run()
        assert not at.exception and not at.error, texts(at)
        assert [t.value for t in at.title] == ["Please open this study from Prolific"]
        assert not any(b.label.startswith("I agree") for b in at.button), "no consent without a Prolific id"
    assert not stored_responses(setup)
    at = new_app(GOOD).run()
    assert current_kind(at) == "consent"
    assert run_to_end(at)[-1] == "done"


def test_the_polite_page_speaks_the_study_language(setup_study):
    _with_study_keys(setup_study("verification"), require_prolific_id="true", language='"de"')
    at = new_app().run()
    assert [t.value for t in at.title] == ["Bitte öffnen Sie diese Studie über Prolific"]
    assert "Prolific" in texts(at) and "This study" not in texts(at)


def test_the_pilot_link_needs_no_prolific_id(setup_study, monkeypatch):
    """The researcher's own run through the pilot link (no Prolific behind it)."""
    id_key = "an-id-key-for-these-tests-only-0123456789"
    monkeypatch.setenv("XAI_STUDY_ID_KEY", id_key)
    setup = _with_study_keys(setup_study("verification"), require_prolific_id="true")
    key = pilot_key(id_key.encode(), load_study(setup.study_file, check_images=False).id)
    at = new_app({PILOT_PARAM: key}).run()
    assert current_kind(at) == "consent", texts(at)


def test_an_unusable_id_keeps_the_others_and_flags_the_participant(setup_study):
    setup = setup_study("verification")
    at = new_app({**GOOD, "SESSION_ID": "tab\tinside"}).run()
    assert current_kind(at) == "consent" and NOTICE in texts(at)
    assert run_to_end(at)[-1] == "done"
    repo, study, rows = _participants(setup)
    try:
        (row,) = rows
        engine_ids = normalise_external_ids(GOOD).ids
        assert row["prolific_pid"] and row["prolific_study_id"] and row["prolific_session_id"] is None
        assert row["prolific_pid"] != engine_ids["prolific_pid"], "stored as its HMAC, not as given"
        assert row["quality_flags"] == "external_id_refused" and row["external_ids_refused"] == "SESSION_ID"
        assert row["status"] == "completed"
    finally:
        repo.dispose()
