"""The round trip to the recruitment site in Chromium, against a local stand-in for Prolific.

The study file sends every outcome back with its own code (``redirect_url = ".../done?cc={code}"``) after a
one-second pause, and gates devices (no phones, at least 900 px). A finished participant and one who
declines consent each land on the local server with their outcome's code; a phone and a narrow window are
told why they cannot start, and widening the window lets the participant in.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect
from study.kit import make_checkpoint, make_stimuli, write_study

from e2e.browser_steps import TIMEOUT_MS, click, shot, wait_settled, wait_text
from e2e.study_setup import E2EStudy, precompute, server_env
from e2e.test_participant_browser import answer_questionnaire, answer_trial

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ID_KEY = "round-trip test id key"
PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")


class _Recruiter(BaseHTTPRequestHandler):
    visits: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's name
        type(self).visits.append(self.path)
        body = b"<html><body><h1>Back at the recruitment site</h1></body></html>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):  # keep the test output quiet
        pass


def walk_to_the_end(page, decision: str, before_answering=lambda page: None) -> None:
    """Consent, questions, instructions and the study's one trial, up to the end page."""
    wait_text(page, "I agree — start the study")
    click(page, "I agree — start the study")
    wait_text(page, "A few questions about you")
    answer_questionnaire(page)
    wait_text(page, "A worked example")
    click(page, "I understand — begin")
    wait_text(page, "Image 1 of 1")
    before_answering(page)
    answer_trial(page, decision, "6")
    wait_text(page, "Thank you!")


def hide_the_page_once(page) -> None:
    """The Page Visibility API as a tab switch drives it (headless Chromium has no second tab to switch to),
    once the trial's page-signals script listens (it mounts after the trial's text shows: a busy CI machine
    hid the page before it did, and the hiding went uncounted)."""
    page.wait_for_function("window.__pageSignalsListening === true")
    page.evaluate(HIDE_JS % "hidden")
    page.wait_for_timeout(400)
    page.evaluate(HIDE_JS % "visible")


@pytest.fixture(scope="module")
def recruiter():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recruiter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory, recruiter):
    from e2e.conftest import ARTIFACTS, _require_browser
    from e2e.streamlit_server import StreamlitServer

    _require_browser()
    folder = tmp_path_factory.mktemp("round_trip")
    path = write_study(folder / "studies", "verification", checkpoint=make_checkpoint(folder / "ck"),
                       stimuli=make_stimuli(folder / "stimuli"), trials=1, checks=0, sid="round-trip")
    text = path.read_text(encoding="utf-8")
    text = text.replace('redirect_url = "https://app.prolific.com/submissions/complete?cc=DONE-42"',
                        f'redirect_url = "{recruiter}/done?cc={{code}}"\nno_consent_code = "NOC-7"\n'
                        'min_viewport_width = 900\nallow_phones = false')
    text = text.replace("redirect_seconds = 0", "redirect_seconds = 1")
    path.write_text(text, encoding="utf-8")
    setup = E2EStudy(study_file=path, db_path=folder / "responses.sqlite", cache_dir=folder / "cache")
    precompute(setup)
    env = {**server_env(setup), "XAI_STUDY_ID_KEY": ID_KEY}
    with StreamlitServer(env, ARTIFACTS / "round_trip_server.log") as server:
        server.setup = setup
        yield server
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


def test_a_finished_participant_returns_with_the_completion_code(chromium, gated_server, recruiter, artifacts):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(gated_server.url)
        walk_to_the_end(page, "Yes, the prediction is correct")
        shot(page, artifacts, "done_before_return")
        expect(page.get_by_role("link", name="Return to Prolific to confirm your completion")).to_have_attribute(
            "href", f"{recruiter}/done?cc=DONE-42")
        page.wait_for_url(f"{recruiter}/done?cc=DONE-42", timeout=TIMEOUT_MS)  # by itself, after 1 s
        expect(page.get_by_text("Back at the recruitment site")).to_be_visible()
    finally:
        context.close()


def test_declining_consent_returns_with_the_no_consent_code(chromium, gated_server, recruiter):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        page.goto(gated_server.url)
        wait_text(page, "You agree to take part.")
        click(page, "I do not agree")
        wait_text(page, "Nothing about you has been stored")
        page.wait_for_url(f"{recruiter}/done?cc=NOC-7", timeout=TIMEOUT_MS)
    finally:
        context.close()


def test_a_phone_is_told_why_it_cannot_start(chromium, gated_server, artifacts):
    context = chromium.new_context(viewport={"width": 1100, "height": 900}, user_agent=PHONE_UA)
    page = context.new_page()
    try:
        page.goto(gated_server.url)
        wait_text(page, "This study cannot be done on a phone")
        shot(page, artifacts, "phone_refused")
        assert page.get_by_role("button", name="I agree — start the study").count() == 0
    finally:
        context.close()


def test_a_narrow_window_is_refused_until_it_is_widened(chromium, gated_server):
    context = chromium.new_context(viewport={"width": 700, "height": 900})
    page = context.new_page()
    try:
        page.goto(gated_server.url)
        wait_text(page, "Your browser window is 700 pixels wide; this study needs at least 900")
        assert page.get_by_role("button", name="I agree — start the study").count() == 0
        page.set_viewport_size({"width": 1000, "height": 900})
        expect(page.get_by_role("button", name="I agree — start the study")).to_be_visible(timeout=TIMEOUT_MS)
        wait_settled(page)
        assert page.get_by_text("Your browser window is").count() == 0
    finally:
        context.close()


def test_a_pilot_link_flags_the_participant_and_the_browser_reports_hidden_time(chromium, gated_server):
    """Through the pilot link: a banner, the participant stored as a pilot; while the trial is on screen the
    page is hidden once (as switching tabs does), and the answer arrives with that count and its time."""
    from e2e.study_setup import open_repository
    from study_app.study.screening import pilot_key

    key = pilot_key(ID_KEY.encode(), "round-trip")
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(LISTENING_JS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{gated_server.url}/?pilot={key}")
        wait_text(page, "Pilot run")
        walk_to_the_end(page, "No, the prediction is wrong", before_answering=hide_the_page_once)
        token = page.url.split("p=")[1].split("&")[0]
    finally:
        context.close()
    repo, record = open_repository(gated_server.setup)
    try:
        participant = repo.participant_by_token(token)
        assert participant.pilot is True
        (response,) = [r for r in repo.responses(record.id) if r.participant_id == participant.id]
        assert response.signals["hidden_count"] == 1 and 300 <= response.signals["hidden_ms"] < 60_000
    finally:
        repo.dispose()


def test_a_wrong_pilot_key_is_an_ordinary_participant(chromium, gated_server):
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    try:
        page.goto(f"{gated_server.url}/?pilot=guessed")
        wait_text(page, "You agree to take part.")
        assert page.get_by_text("Pilot run").count() == 0
    finally:
        context.close()


# Marks the moment study_app/ui/page_signals.js adds its visibility listener (the page's other listeners,
# Streamlit's own among them, do not mention hiddenSince).
LISTENING_JS = """(() => {
    const add = Document.prototype.addEventListener;
    Document.prototype.addEventListener = function(type, listener, ...rest) {
        if (type === 'visibilitychange' && String(listener).includes('hiddenSince')) window.__pageSignalsListening = true;
        return add.call(this, type, listener, ...rest);
    };
})();"""
HIDE_JS = """() => {
    Object.defineProperty(document, 'visibilityState', {value: '%s', configurable: true});
    document.dispatchEvent(new Event('visibilitychange'));
}"""
