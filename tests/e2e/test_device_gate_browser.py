"""The device gate holds in Chromium on a slow phone: no consent button before the window's width is known.

The launch rehearsal let two 360 px phones in: the consent buttons were drawn before the page had reported
its width (about 0.1 s locally, about 6.5 s on an emulated slow mobile connection), and nothing checked the
width again at consent. Here a 360 px phone (mobile User-Agent, touch, device pixel ratio 3) on a throttled
connection opens a study that needs 900 px. A watcher installed before the page loads clicks any consent
button the moment one appears; it must never find one, and the database must hold no participant.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from e2e.browser_steps import TIMEOUT_MS, shot, wait_text
from e2e.study_setup import E2EStudy, precompute, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PIXEL_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0.0.0 Mobile Safari/537.36")
# A slow mobile connection (DevTools' "3G" preset's order of magnitude): every request waits 560 ms, and the
# app's scripts trickle in, so the width-reporting component mounts seconds after the consent text.
SLOW_3G = {"offline": False, "latency": 560, "downloadThroughput": 180 * 1024, "uploadThroughput": 84 * 1024}
# Clicks a consent button the moment it exists in the page, and counts how often one was seen.
WATCH_JS = """(() => {
    window.__consentSeen = 0;
    new MutationObserver(() => {
        for (const b of document.querySelectorAll('button')) {
            if (b.textContent.includes('I agree')) { window.__consentSeen += 1; b.click(); }
        }
    }).observe(document, {childList: true, subtree: true});
})();"""


@pytest.fixture(scope="module")
def gated_server(tmp_path_factory):
    from study.kit import make_checkpoint, make_stimuli, write_study

    from e2e.conftest import ARTIFACTS, _require_browser
    from e2e.streamlit_server import StreamlitServer

    _require_browser()
    folder = tmp_path_factory.mktemp("device_gate")
    path = write_study(folder / "studies", "verification", checkpoint=make_checkpoint(folder / "ck"),
                       stimuli=make_stimuli(folder / "stimuli"), trials=1, checks=0, sid="device-gate")
    path.write_text(path.read_text(encoding="utf-8").replace("[study]\n", "[study]\nmin_viewport_width = 900\n", 1),
                    encoding="utf-8")
    setup = E2EStudy(study_file=path, db_path=folder / "responses.sqlite", cache_dir=folder / "cache")
    precompute(setup)
    with StreamlitServer(server_env(setup), ARTIFACTS / "device_gate_server.log") as server:
        server.setup = setup
        yield server
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


def _participants(setup: E2EStudy) -> int:
    engine = sa.create_engine(setup.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT count(*) FROM participants")).scalar_one()
    finally:
        engine.dispose()


def test_a_slow_360px_phone_never_sees_a_consent_button(chromium, gated_server, artifacts):
    context = chromium.new_context(viewport={"width": 360, "height": 740}, device_scale_factor=3,
                                   is_mobile=True, has_touch=True, user_agent=PIXEL_UA)
    context.add_init_script(WATCH_JS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_3G)
    try:
        page.goto(gated_server.url, timeout=2 * TIMEOUT_MS)
        wait_text(page, "You agree to take part.", timeout=2 * TIMEOUT_MS)
        wait_text(page, "Your browser window is 360 pixels wide; this study needs at least 900",
                  timeout=2 * TIMEOUT_MS)
        shot(page, artifacts, "slow_phone_refused")
        assert page.evaluate("window.__consentSeen") == 0
        assert page.get_by_role("button", name="I agree — start the study").count() == 0
    finally:
        context.close()
    assert _participants(gated_server.setup) == 0
