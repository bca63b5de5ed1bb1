"""End-to-end fixtures: a real ``streamlit run`` server on a free port and Debian's Chromium via Playwright.

No browser download is possible here, so Chromium comes from the system (``/usr/bin/chromium``, installed
by ``.ci/run``). The tests skip with a clear reason when it is missing locally; in CI (``CI`` set) a
missing browser fails instead, so the end-to-end test can never silently not run.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS, PROJECT_ROOT

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "e2e"


def _require_browser() -> None:
    reason = None
    if not Path(CHROMIUM).exists():
        reason = f"{CHROMIUM} not found (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "playwright is not installed (pip install -e '.[test]')"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"end-to-end test cannot run in CI: {reason}")
        pytest.skip(reason)


@pytest.fixture(scope="session")
def chromium():
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def artifacts(request) -> Path:
    folder = ARTIFACTS / request.node.name
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    return folder


@pytest.fixture(scope="module")
def e2e_server(tmp_path_factory):
    """One precomputed test study and one ``streamlit run`` server for the tests of a module."""
    _require_browser()
    from e2e.streamlit_server import StreamlitServer
    from e2e.study_setup import make_e2e_study, server_env

    folder = tmp_path_factory.mktemp("e2e_study")
    setup = make_e2e_study(folder, trials=4)
    log = ARTIFACTS / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with StreamlitServer(server_env(setup), log) as server:
        yield setup, server
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


STUDY_SETTINGS = ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_RESEARCHER_PASSWORD", "XAI_STUDY_DB_URL",
                  "XAI_STUDY_ID_KEY")


def require_haproxy() -> None:
    """HAProxy for the tests that serve as ``xai-study serve`` does: like Chromium, skipped locally, a failure in CI."""
    from study_app.serve.launcher import DeploymentError, find_haproxy

    try:
        find_haproxy()
    except DeploymentError as exc:
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))


@pytest.fixture
def clean_settings(monkeypatch, tmp_path) -> Path:
    """No study setting from this shell, and this test's folder as the working directory (an id key the app
    creates goes there)."""
    for name in STUDY_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    return tmp_path
