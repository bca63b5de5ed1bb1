"""The researcher area in AppTest: the password gate, every page, and participant text shown as text."""

from __future__ import annotations

import argparse

import pytest

from app.conftest import PASSWORD_ENV
from app.drive import click, new_app, run_to_end, texts
from study_app.analysis import prereg_cli
from study_app.ui import state_keys
from study_app.ui.page_style import PAGE_CSS

PAGES = {
    "readiness": ("app_pages/researcher_readiness.py", "Readiness check"),
    "progress": ("app_pages/researcher_progress.py", "Live progress"),
    "gallery": ("app_pages/researcher_gallery.py", "Gallery"),
    "analysis": ("app_pages/researcher_analysis.py", "Analysis"),
    "data": ("app_pages/researcher_data.py", "Data export"),
}
XSS = "<img src=x onerror=alert(1)>"


def open_login(at):
    at.run()
    return at.switch_page("app_pages/researcher_login.py").run()


def test_locked_when_no_password_is_set(setup_study):
    setup_study("verification")
    at = open_login(new_app())
    assert not at.exception
    assert "locked: no password is configured" in texts(at)
    assert not at.text_input, "no password form when there is no password to check"


def test_wrong_password_is_refused(setup_study, monkeypatch):
    setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, "correct horse battery staple")
    at = open_login(new_app())
    at.text_input(key="researcher_password_input").input("correct horse battery stapl")
    at.button[0].click().run()
    assert "Wrong password." in texts(at)
    assert not at.session_state[state_keys.RESEARCHER_OK] if state_keys.RESEARCHER_OK in at.session_state else True
    assert [t.value for t in at.title] == ["Researcher area"]


def test_right_password_opens_the_area(setup_study, monkeypatch):
    setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, "correct horse battery staple ✓")  # non-ASCII must work too
    at = open_login(new_app())
    at.text_input(key="researcher_password_input").input("correct horse battery staple ✓")
    at.button[0].click().run()
    assert at.session_state[state_keys.RESEARCHER_OK] is True
    assert [t.value for t in at.title] == ["Readiness check"]


def test_password_from_secrets_file(setup_study, tmp_path, monkeypatch):
    setup_study("verification")  # the working directory is tmp_path
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text('researcher_password = "from-secrets-toml-123"\n',
                                                          encoding="utf-8")
    at = open_login(new_app())
    at.text_input(key="researcher_password_input").input("from-secrets-toml-123")
    at.button[0].click().run()
    assert at.session_state[state_keys.RESEARCHER_OK] is True


def test_demo_prints_a_one_time_password_to_the_log_only(setup_study, monkeypatch, capsys):
    import study_app.ui.password_gate as gate

    setup_study("verification")
    monkeypatch.delenv("XAI_STUDY_FILE")  # no study configured: the bundled demo (or its example stand-in)
    gate._demo_one_time_password.clear()
    at = open_login(new_app())
    logged = [line for line in capsys.readouterr().out.splitlines() if "one-time password" in line]
    assert len(logged) == 1
    password = logged[0].rsplit(" ", 1)[-1]
    assert len(password) >= 16
    assert password not in texts(at), "the one-time password must never appear on a page"
    assert "printed in the server log" in texts(at)
    at.text_input(key="researcher_password_input").input(password)
    at.button[0].click().run()
    assert at.session_state[state_keys.RESEARCHER_OK] is True
    gate._demo_one_time_password.clear()


def unlocked(at):
    at.session_state[state_keys.RESEARCHER_OK] = True
    return at.run()


@pytest.mark.parametrize("page", list(PAGES))
def test_every_researcher_page_renders(setup_study, page):
    setup_study("verification")
    run_to_end(new_app().run())
    at = unlocked(new_app())
    path, title = PAGES[page]
    at.switch_page(path).run()
    assert not at.exception, [e.value for e in at.exception]
    assert [t.value for t in at.title] == [title]
    if page != "readiness":  # readiness may rightly report failures; its verdicts are tested on their own
        assert not at.error, [e.value for e in at.error]


def test_progress_counts_the_completed_participant(setup_study):
    setup_study("verification")
    run_to_end(new_app().run())
    at = unlocked(new_app())
    at.switch_page(PAGES["progress"][0]).run()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Started"] == "1" and metrics["Completed"] == "1" and metrics["Abandoned"] == "0"


def test_participant_text_is_shown_as_text_never_html(setup_study):
    setup_study("rate", display="side_by_side")
    run_to_end(new_app().run(), comment=XSS)
    at = unlocked(new_app())
    at.switch_page(PAGES["progress"][0]).run()
    assert XSS in [t.value for t in at.text], "the comment is shown verbatim with st.text"
    assert not any(XSS in m.value for m in at.markdown), "participant text must never go through Markdown"
    assert [h.proto.body for h in at.get("html")] == [PAGE_CSS], "no HTML but the page stylesheet"


def test_data_page_exports_the_rows(setup_study):
    setup_study("verification")
    run_to_end(new_app().run())
    at = unlocked(new_app())
    at.switch_page(PAGES["data"][0]).run()
    at.button(key="prepare_export").click().run()
    assert not at.exception
    downloads = at.get("download_button")
    assert [d.proto.label for d in downloads] == ["Download responses.csv", "Download participants.csv",
                                                  "Download audit_log.csv", "Download the whole audit log"]
    assert "2 responses, 1 participants" in texts(at)
    (table,) = at.dataframe  # the export itself is in the audit log
    assert list(table.value["action"]) == ["export"] and list(table.value["actor"]) == ["web"]


def test_twenty_wrong_passwords_across_fresh_sessions_are_throttled_then_the_window_ends(setup_study,
                                                                                        monkeypatch):
    """Each attempt from a new session (a reload, another browser): the count is in the database, not the
    session. The right password during the wait is refused until the wait is over. Time is a fake clock."""
    from study.kit import FakeClock

    import study_app.ui.password_gate as gate

    setup_study("verification")
    password = "correct horse battery staple"
    monkeypatch.setenv(PASSWORD_ENV, password)
    clock = FakeClock()
    monkeypatch.setattr(gate, "login_clock", clock)

    def attempt(given):
        at = open_login(new_app())
        at.text_input(key="researcher_password_input").input(given)
        at.button[0].click().run()
        return at

    outcomes = []
    for i in range(20):
        shown = texts(attempt(f"guess {i}"))
        outcomes.append("locked" if "locked here" in shown else "wrong" if "Wrong password" in shown else shown)
    assert outcomes == ["wrong"] * 4 + ["locked"] * 16
    at = attempt(password)
    assert "Try again in 2 s" in texts(at) and state_keys.RESEARCHER_OK not in at.session_state
    assert "Try again in 2 s" in texts(open_login(new_app()))  # the wait is shown before any attempt too
    clock.advance(seconds=2)
    at = attempt(password)
    assert at.session_state[state_keys.RESEARCHER_OK] is True

    at.switch_page(PAGES["data"][0]).run()  # the audit log on the Data page lists every attempt
    assert not at.exception
    (table,) = at.dataframe
    log = table.value
    assert len(log) == 22 and list(log["outcome"][:2]) == ["ok", "locked"]
    assert (log["action"] == "login").all()


def test_a_strangers_lockout_does_not_lock_the_researcher_out(setup_study, monkeypatch):
    """A stranger at another address guessed until locked out (15 minutes per further guess); the
    researcher, at this session's address, still gets in. It used to lock the area for everyone."""
    from study_app.store import Repository, make_engine
    from study_app.store.login_throttle import LOCKED, LoginThrottle

    setup = setup_study("verification")
    password = "correct horse battery staple"
    monkeypatch.setenv(PASSWORD_ENV, password)
    repo = Repository(make_engine(setup.db_url))
    stranger = LoginThrottle(repo)
    outcomes = [stranger.attempt(False, client="203.0.113.9").outcome for _ in range(20)]
    assert outcomes[-1] == LOCKED
    repo.dispose()
    at = open_login(new_app())
    assert "Too many wrong passwords" not in texts(at)
    at.text_input(key="researcher_password_input").input(password)
    at.button[0].click().run()
    assert at.session_state[state_keys.RESEARCHER_OK] is True


def test_the_client_address_is_the_one_the_local_proxy_appended(monkeypatch):
    from types import SimpleNamespace

    import study_app.ui.password_gate as gate

    monkeypatch.setattr(gate.st, "context", SimpleNamespace(
        ip_address=None, headers={"X-Forwarded-For": "10.9.9.9, 203.0.113.9"}))  # first entry: the client's own
    assert gate.client_address() == "203.0.113.9"
    monkeypatch.setattr(gate.st, "context", SimpleNamespace(ip_address="198.51.100.7",
                                                            headers={"X-Forwarded-For": "10.9.9.9"}))
    assert gate.client_address() == "198.51.100.7"  # a direct connection's header is not believed
    monkeypatch.setattr(gate.st, "context", SimpleNamespace(ip_address=None, headers={}))
    assert gate.client_address() == "localhost"


def test_preview_jumps_to_any_step_and_stores_nothing(setup_study):
    from app.conftest import db_counts
    from app.drive import raw_option

    setup = setup_study("verification", trials=2)
    at = unlocked(new_app())
    at.switch_page("app_pages/researcher_preview.py").run()
    assert not at.exception
    assert "You agree to take part." in texts(at)  # stage 0: consent
    picker = next(sb for sb in at.selectbox if sb.key.startswith("preview_step_picker"))
    first_trial = next(i for i, label in enumerate(picker.options) if "trial:0/" in label)
    picker.set_value(first_trial).run()
    assert "Image 1 of 2" in texts(at) and not at.exception
    for radio in at.radio:
        radio.set_value(raw_option(radio.options[0]))
    at = click(at, "Continue")
    assert "accepted by the form but not stored" in texts(at) and "Image 2 of 2" in texts(at)
    counts = db_counts(setup)
    assert counts.get("participants", 0) == 0 and counts.get("responses", 0) == 0
    last = next(sb for sb in at.selectbox if sb.key.startswith("preview_step_picker"))
    at = last.set_value(len(last.options) - 1).run()
    assert "Thank you!" in texts(at) and not at.exception


def test_analysis_page_scores_the_named_questionnaires(setup_study):
    """A study naming a validated questionnaire shows its score, alpha table and citation on the Analysis page."""
    setup_study("verification", tail='\n[[post_questionnaire]]\ninstrument = "sus"\n')
    run_to_end(new_app().run())
    at = unlocked(new_app())
    at.switch_page(PAGES["analysis"][0]).run()
    assert not at.exception, [e.value for e in at.exception]
    assert "Validated questionnaires" in [s.value for s in at.subheader]
    means = next(d.value for d in at.dataframe if "score" in d.value and "mean" in d.value)
    assert list(means["score"]) == ["post_sus_sus"] and 0 <= float(means["mean"].iloc[0]) <= 100
    assert any("Brooke" in c.value for c in at.caption)


def test_analysis_page_reports_a_deviation_from_the_preregistration(setup_study):
    """The Analysis page says whether the running study file is the pre-registered one, and warns once the
    study file differs from the registration (xai-study prereg's lock)."""
    setup = setup_study("verification")
    parser = argparse.ArgumentParser()
    prereg_cli.add_arguments(parser)
    assert prereg_cli.run(parser.parse_args(["--study", str(setup.study_file), "--no-power"])) == 0
    at = unlocked(new_app())
    at.switch_page(PAGES["analysis"][0]).run()
    assert any("Pre-registration: matches" in c.value for c in at.caption) and not at.warning
    setup.study_file.write_text(setup.study_file.read_text().replace('title = "Test study', 'title = "Edited'))
    at = unlocked(new_app())
    at.switch_page(PAGES["analysis"][0]).run()
    assert any("DEVIATION" in w.value and "study.title" in w.value for w in at.warning)
