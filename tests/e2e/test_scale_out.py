"""Faults in a real browser: the server serving a participant dies halfway through a study.

The study is the offline rate example (``examples/studies/offline/rate.toml``: two side-by-side trials of
three maps each, on the demo's cache): a short walk with the heaviest trial pages, so the crash lands on a
page of maps. (Until this session the walk was the whole bundled demo; its other protocols are walked, without
faults, by ``test_demo_browser.py``, and the demo grew past what CI's time allows twice more.)


1. Scale-out: ``Deployment`` runs two ``streamlit run`` replicas on one fresh PostgreSQL database behind
   Debian's HAProxy. Chromium walks the study through the proxy; halfway, the replica named by the
   browser's affinity cookie is killed with SIGKILL. The open page must reconnect through the proxy to the
   other replica by itself (no reload), still show the same trial with every image decoded, and finish;
   HAProxy's health check must have taken the dead replica out.
2. One SQLite server killed with SIGKILL halfway and started again on the same port and database: the page
   reconnects, resumes at the same trial and finishes; the file passes ``PRAGMA integrity_check``.

In both, the database must hold every answer exactly once: one row per trial step, none lost to the crash,
none doubled by the retry. The walk's steps are those of ``test_demo_browser.py``.
"""

from __future__ import annotations

import contextlib
import math
import secrets
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, expect

from e2e.browser_steps import answer_decision_trial, click, wait_settled, wait_text
from e2e.conftest import require_haproxy
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import open_repository
from e2e.test_demo_browser import (
    FIRST_LOAD_MS,
    STEP_MS,
    Pages,
    answer_post_questionnaire,
    answer_pre_questionnaire,
    answer_rate_trial,
    answer_verification_trial,
    input_size,
    shown_images,
    stored_plan,
    trial_steps_per_task,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAULT_STUDY = PROJECT_ROOT / "examples" / "studies" / "offline" / "rate.toml"  # its cache is the demo's
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "faults"
RECONNECT_MS = 90_000  # health-check fall time + client back-off + (restart: a new process importing torch)


@dataclass(frozen=True)
class DemoSetup:
    """What ``open_repository`` and ``stored_plan`` need: the study file, its database, the cache copy."""

    study_file: Path
    db_url: str
    cache_dir: Path


def demo_setup(tmp_path: Path, db_url: str) -> DemoSetup:
    """The study with a copy of the demo's committed cache (which it uses), so nothing in the repository is
    written."""
    cache = shutil.copytree(PROJECT_ROOT / "demo" / "cache", tmp_path / "cache")
    return DemoSetup(study_file=FAULT_STUDY, db_url=db_url, cache_dir=cache)


def walk_demo(page: Page, url: str, setup: DemoSetup, pages: Pages, fault_at: int, fault) -> None:
    """The study from consent to completion code; ``fault(image)`` runs before trial ``fault_at`` is answered."""
    from study_app.study import load_study  # noqa: PLC0415

    study = load_study(setup.study_file, check_images=False)
    rate = [t for t in study.tasks if t.protocol == "rate"]
    verification = [t for t in study.tasks if t.protocol == "verification"]
    total = sum(t.trials + t.learning_trials + t.attention_checks for t in study.tasks)
    page.goto(url)
    wait_text(page, study.title, FIRST_LOAD_MS)
    click(page, "I agree — start the study")
    answer_pre_questionnaire(page, pages, study)
    wait_text(page, "A worked example", STEP_MS)
    click(page, "I understand — begin")
    image = 0
    for task in rate:
        for _ in range(task.trials):
            image += 1
            if image == fault_at:
                fault(image, total)
            answer_rate_trial(page, pages, image, total, [m.label for m in study.task_methods(task)],
                              n_predictions=min(3, len(task.class_names)),
                              model_input=input_size(task))
    for task in verification:
        for _ in range(task.trials + task.learning_trials + task.attention_checks):
            image += 1
            if image == fault_at:
                fault(image, total)
            answer_verification_trial(page, pages, image, total, [m.label for m in study.task_methods(task)],
                                      input_size(task), panels={})  # panels: no screenshot
    for task in (t for t in study.tasks if t.protocol == "decision"):
        for _ in range(task.trials + task.attention_checks):
            image += 1
            if image == fault_at:
                fault(image, total)
            wait_text(page, f"Image {image} of {total}", STEP_MS)
            answer_decision_trial(page, task.class_label(task.class_names[image % len(task.class_names)]),
                                  timeout=STEP_MS)  # the label participants read (class_labels)
    answer_post_questionnaire(page, stored_plan(setup)["post_questions"])
    click(page, "Continue")
    wait_text(page, "Thank you!", STEP_MS)
    wait_text(page, study.completion_code, STEP_MS)
    pages.shot("done")


def halfway(setup: DemoSetup) -> int:
    from study_app.study import load_study  # noqa: PLC0415

    study = load_study(setup.study_file, check_images=False)
    return math.ceil(sum(t.trials + t.learning_trials + t.attention_checks for t in study.tasks) / 2)


def expect_same_trial_after_reconnect(page: Page, image: int, total: int) -> None:
    """The page opened a new websocket by itself (no reload: the spy would be reset), shows no connection
    warning, the same trial, and every image decoded."""
    page.wait_for_function("() => window.__xaiSocketsOpened >= 2", timeout=RECONNECT_MS)
    expect(page.get_by_test_id("stConnectionStatus")).to_have_count(0, timeout=RECONNECT_MS)
    wait_text(page, f"Image {image} of {total}", RECONNECT_MS)
    wait_settled(page, RECONNECT_MS)
    images = shown_images(page)
    assert images and all(i["width"] > 0 for i in images), images


def wait_connection_lost(page: Page) -> None:
    """Until the page's websocket has closed, so the test knows the page noticed the crash instead of
    racing it (and the first socket was the only one so far)."""
    page.wait_for_function("() => window.__xaiSocketClosed === true", timeout=RECONNECT_MS)
    assert page.evaluate("() => window.__xaiSocketsOpened") == 1


SOCKET_SPY = """(() => {
    const Native = window.WebSocket;
    window.__xaiSocketClosed = false;
    window.__xaiSocketsOpened = 0;
    window.WebSocket = function (...args) {
        const socket = new Native(...args);
        socket.addEventListener('open', () => { window.__xaiSocketsOpened += 1; });
        socket.addEventListener('close', () => { window.__xaiSocketClosed = true; });
        return socket;
    };
    window.WebSocket.prototype = Native.prototype;
    Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();"""


def count_answers(db_url: str) -> tuple[int, int]:
    """(rows, distinct trial steps) in the responses table, straight from SQL."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT count(*) FROM responses")).scalar_one()
            distinct = conn.execute(text(
                "SELECT count(*) FROM (SELECT DISTINCT participant_id, trial_index, phase FROM responses) AS d"
            )).scalar_one()
    finally:
        engine.dispose()
    return rows, distinct


def assert_each_answer_once(setup: DemoSetup) -> None:
    from study_app.study import load_study  # noqa: PLC0415

    study = load_study(setup.study_file, check_images=False)
    expected = sum(trial_steps_per_task(t) for t in study.tasks)
    total = sum(t.trials + t.learning_trials + t.attention_checks for t in study.tasks)
    repo, record = open_repository(setup)
    try:
        participants = repo.participants(record.id)
        responses = list(repo.responses(record.id))
        events = [e.kind for e in repo.events(record.id)]
    finally:
        repo.dispose()
    assert [p.status for p in participants] == ["completed"]
    assert len(responses) == expected
    assert sorted({r.trial_index for r in responses}) == list(range(total))
    assert count_answers(setup.db_url) == (expected, expected)
    # The answers are the ones given, the crashed trial's included (answer_rate_trial's choices).
    n_rate = sum(t.trials for t in study.tasks if t.protocol == "rate")
    trust = {r.trial_index: r.answer["trust"] for r in responses if r.phase == "trust"}
    assert trust == {i: 1 + (i + 1) % 5 for i in range(n_rate)}
    comments = {r.trial_index: r.answer["comment"] for r in responses if r.phase == "explanation"}
    assert comments == {i: f"Demo run, image {i + 1}." for i in range(n_rate)}
    assert events[0] == "consent" and events[-1] == "completion" and events.count("completion") == 1


def new_page(context: BrowserContext, folder: Path) -> tuple[Page, Pages]:
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    page = context.new_page()
    page.set_default_timeout(STEP_MS)
    page.add_init_script(SOCKET_SPY)
    return page, Pages(page, folder)


# -- 1. two replicas behind HAProxy on PostgreSQL ----------------------------------------------------------

@pytest.fixture
def fresh_pg_database():
    """A database of its own on the test server, dropped afterwards (replicas see one database, as in a
    real deployment, rather than a schema through search_path)."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415
    from study.kit import postgres_url  # noqa: PLC0415

    base = make_url(postgres_url())
    name = f"xai_scale_{secrets.token_hex(4)}"
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def affinity(context: BrowserContext) -> str:
    from study_app.serve.haproxy import COOKIE_NAME  # noqa: PLC0415

    values = [c["value"] for c in context.cookies() if c["name"] == COOKIE_NAME]
    assert len(values) == 1, context.cookies()
    return values[0]


@pytest.mark.postgres
def test_replica_killed_mid_study_participant_finishes_on_the_other(chromium, tmp_path, fresh_pg_database):
    from study_app.serve.launcher import Deployment  # noqa: PLC0415

    require_haproxy()
    setup = demo_setup(tmp_path, fresh_pg_database)
    env = {"XAI_STUDY_CACHE": str(setup.cache_dir)}
    folder = ARTIFACTS / "replica_killed"
    events: dict = {}

    with Deployment(setup.study_file, setup.db_url, replicas=2, env=env, log_dir=folder / "logs",
                    check_interval_ms=500, quiet=True) as deployment:
        context = chromium.new_context(viewport={"width": 1280, "height": 2000})
        page, pages = new_page(context, folder)

        def kill_serving_replica(image: int, total: int) -> None:
            wait_text(page, f"Image {image} of {total}", STEP_MS)
            shown_images(page)
            victim = deployment.replica_for_cookie(affinity(context))
            survivor = next(r for r in deployment.replicas if r is not victim)
            pages.shot("before_kill")
            start = time.monotonic()
            deployment.kill_replica(victim.name)  # SIGKILL: no goodbye to the browser or the database
            wait_connection_lost(page)
            expect_same_trial_after_reconnect(page, image, total)
            events.update(victim=victim.name, survivor=survivor.name, reconnect_s=time.monotonic() - start)
            pages.shot("after_reconnect")

        try:
            walk_demo(page, deployment.url, setup, pages, halfway(setup), kill_serving_replica)
            assert affinity(context) == events["survivor"]  # the rest of the study ran on the survivor
            assert "Traceback" not in page.content()
        except BaseException:
            with contextlib.suppress(Exception):
                pages.shot("failure")
            raise
        finally:
            context.close()
        states = deployment.server_states()
        survivor_log = deployment.replica_for_cookie(events["survivor"]).log_text()
    assert states[events["victim"]].startswith("DOWN"), states
    assert states[events["survivor"]].startswith("UP"), states
    assert "Traceback" not in survivor_log, survivor_log[-4000:]
    assert_each_answer_once(setup)
    print(f"replica {events['victim']} killed; page back on {events['survivor']} after "  # noqa: T201
          f"{events['reconnect_s']:.1f} s")


# -- 2. one SQLite server, killed and started again ---------------------------------------------------------

def test_sqlite_server_killed_and_restarted_mid_study(chromium, tmp_path, monkeypatch):
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    for name in ("XAI_STUDY_FILE", "XAI_STUDY_RESEARCHER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    db_path = tmp_path / "responses.sqlite"
    setup = demo_setup(tmp_path, f"sqlite:///{db_path}")
    env = {"XAI_STUDY_FILE": str(setup.study_file), "XAI_STUDY_DB_URL": setup.db_url,
           "XAI_STUDY_CACHE": str(setup.cache_dir)}
    folder = ARTIFACTS / "sqlite_restart"
    timing: dict = {}

    with StreamlitServer(env, folder / "server.log") as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 2000})
        page, pages = new_page(context, folder)

        def kill_and_restart(image: int, total: int) -> None:
            wait_text(page, f"Image {image} of {total}", STEP_MS)
            shown_images(page)
            pages.shot("before_kill")
            start = time.monotonic()
            server.kill()
            wait_connection_lost(page)
            server.restart()  # same port, same database file
            expect_same_trial_after_reconnect(page, image, total)
            timing["reconnect_s"] = time.monotonic() - start
            pages.shot("after_restart")

        try:
            walk_demo(page, server.url, setup, pages, halfway(setup), kill_and_restart)
            assert "Traceback" not in page.content()
        except BaseException:
            with contextlib.suppress(Exception):
                pages.shot("failure")
            raise
        finally:
            context.close()
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]
    assert_each_answer_once(setup)
    engine = create_engine(setup.db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
    finally:
        engine.dispose()
    print(f"SQLite server killed and restarted; page back after {timing['reconnect_s']:.1f} s")  # noqa: T201
