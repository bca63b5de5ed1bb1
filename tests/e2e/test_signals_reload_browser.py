"""Page signals survive a reload, in Chromium: the trial's page is hidden once, reloaded, hidden again, and
the exported ``hidden_count`` is 2.

The launch rehearsal found hidden/blur counts of 0 for a trial that spanned a reload: the counts lived in the
page only. Now the page reports them as they change and the server keeps them per trial and page load, so
the answer carries the earlier load's counts too.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from e2e.browser_steps import TIMEOUT_MS, click, wait_text
from e2e.study_setup import E2EStudy, open_repository, served_tiny_study
from e2e.test_participant_browser import answer_questionnaire, answer_trial
from e2e.test_recruitment_round_trip import HIDE_JS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

# Counts the visibility listeners study_app/ui/page_signals.js adds (one in the trial's form, one kept live
# outside it); other listeners on the page do not mention hiddenSince.
LISTENERS_JS = """(() => {
    window.__pageSignalsListeners = 0;
    const add = Document.prototype.addEventListener;
    Document.prototype.addEventListener = function(type, listener, ...rest) {
        if (type === 'visibilitychange' && String(listener).includes('hiddenSince')) window.__pageSignalsListeners += 1;
        return add.call(this, type, listener, ...rest);
    };
})();"""


@pytest.fixture(scope="module")
def signals_server(tmp_path_factory):
    from e2e.conftest import ARTIFACTS, _require_browser

    _require_browser()
    log = ARTIFACTS / "signals_reload_server.log"
    with served_tiny_study(tmp_path_factory.mktemp("signals_server"), "signals-reload", log, trials=1,
                           checks=0) as server:
        yield server


def _hide_once(page) -> None:
    page.wait_for_function("window.__pageSignalsListeners >= 2")  # both copies listen
    page.evaluate(HIDE_JS % "hidden")
    page.wait_for_timeout(400)
    page.evaluate(HIDE_JS % "visible")


def _kept_hidden_ms(setup: E2EStudy) -> int:
    engine = sa.create_engine(setup.db_url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT coalesce(sum(hidden_ms), 0) FROM trial_signals")).scalar_one()
    finally:
        engine.dispose()


def test_hidden_counts_survive_a_reload(chromium, signals_server):
    from study_app.export import response_rows

    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    context.add_init_script(LISTENERS_JS)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(signals_server.url)
        wait_text(page, "I agree — start the study")
        click(page, "I agree — start the study")
        wait_text(page, "A few questions about you")
        answer_questionnaire(page)
        wait_text(page, "A worked example")
        click(page, "I understand — begin")
        wait_text(page, "Image 1 of 1")
        _hide_once(page)
        deadline = time.monotonic() + TIMEOUT_MS / 1000
        while _kept_hidden_ms(signals_server.setup) < 300:  # the server kept the closed hiding before the reload
            assert time.monotonic() < deadline, "the hiding never reached the server"
            time.sleep(0.1)
        page.reload()
        wait_text(page, "Image 1 of 1")
        _hide_once(page)
        answer_trial(page, "Yes, the prediction is correct", "6")
        wait_text(page, "Thank you!")
    finally:
        context.close()
    repo, record = open_repository(signals_server.setup)
    try:
        (row,) = response_rows(repo, record)
        assert row["hidden_count"] == 2
        assert row["hidden_ms"] >= 2 * 300
    finally:
        repo.dispose()
