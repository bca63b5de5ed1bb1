"""A server is warm when it says it is healthy, and a broken study is in its log before anyone visits.

The launch rehearsal's first visitor after a start waited 8.6-46 s on a blank page while the health check
had answered ``ok`` within 1.5 s: Streamlit ran no app code before the first session, so that session
imported torch, ran the models and rendered the maps. Now the server (``streamlit run study_app/main.py``,
as the README starts it) loads all of that before it answers anything (``study_app.ui.warm_start``).
The timing itself is ``benchmarks/first_visit.py``'s; these tests check the mechanism: by the time the
health check passes, the log already shows the study opened and its maps rendered, and the first visitor's
session opens nothing again (one "opened" line in the log: the session found the engine the warm-up
filled into Streamlit's resource cache, not a second copy).
"""

from __future__ import annotations

import pytest

from e2e.browser_steps import wait_text
from e2e.conftest import ARTIFACTS
from e2e.streamlit_server import StreamlitServer
from e2e.study_setup import make_e2e_study, server_env
from study_app.serve.warm_log import WARM_DONE, WARM_FAILED, warm_failures

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONSENT = "You agree to take part."  # the consent text of the test study (tests/study/kit.py)
OPENED = ") opened; "  # study_app.ui.resources logs "study 'id' (hash) opened; ..." each time it opens one
MAPS_READY = "maps ready in memory:"


@pytest.fixture(scope="module")
def warm_study(tmp_path_factory):
    return make_e2e_study(tmp_path_factory.mktemp("warm_study"), trials=2)


def test_server_is_warm_when_healthy_and_the_first_visitor_reuses_it(chromium, warm_study):
    log_path = ARTIFACTS / "warm_start" / "server.log"
    with StreamlitServer(server_env(warm_study), log_path) as server:
        at_healthy = server.log_text()  # read the moment the health check first answered ok
        assert OPENED in at_healthy, f"healthy before the study was opened:\n{at_healthy[-3000:]}"
        assert MAPS_READY in at_healthy and WARM_DONE in at_healthy, at_healthy[-3000:]
        assert at_healthy.index(OPENED) < at_healthy.index(WARM_DONE)

        context = chromium.new_context()
        try:
            page = context.new_page()
            page.goto(server.url)
            wait_text(page, CONSENT)
        finally:
            context.close()
        log = server.log_text()
    assert log.count(OPENED) == 1, f"the first session opened the study again:\n{log[-3000:]}"
    assert "Traceback" not in log and "missing ScriptRunContext" not in log, log[-3000:]


def test_a_broken_study_is_logged_at_start_in_one_line(tmp_path, warm_study):
    broken = tmp_path / "broken.toml"
    text = warm_study.study_file.read_text(encoding="utf-8")
    assert 'name = "gradcam"' in text and "trials = 2" in text
    broken.write_text(text.replace('name = "gradcam"', 'name = "no_such_method"')
                      .replace("trials = 2", 'trials = "two"'), encoding="utf-8")
    env = {**server_env(warm_study), "XAI_STUDY_FILE": str(broken)}
    with StreamlitServer(env, tmp_path / "server.log") as server:  # nobody opens a page
        log = server.log_text()
    (line,) = warm_failures(log)
    assert str(broken) in line and "2 problems" in line, line
    assert "methods[0].name: unknown method 'no_such_method'" in line, line
    assert "tasks[0].trials: must be an integer" in line, line
    assert "Traceback" not in log, log[-3000:]
    assert sum(WARM_FAILED in entry for entry in log.splitlines()) == 1, log[-3000:]
