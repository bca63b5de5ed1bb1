"""``xai-study simulate --browser K``: K synthetic participants through the real app in Chromium.

The study is served as ``xai-study serve`` serves it (:class:`study_app.serve.launcher.Deployment`, one replica
behind HAProxy) on the simulation's database. Each participant opens the study's *simulator link*
(``?simulate=KEY``, a key derived from the study's id key like the pilot link's, so no visitor can mark
themselves synthetic) with made-up Prolific ids, in a fresh browser context, and walks every page as the page
offers it: it asks for the AI's advice where a button offers it, picks an option in every choice or scale
(uniformly at random, seeded), fills every drop-down (a ranking: a different option per place), writes a short text in every visible free-text box and presses the page's
primary button, until a page offers none (the end, or a screen-out). A comprehension question answered wrongly
is answered again as the study allows.

These participants check that the study's *pages* work end to end in a browser (every step drawn, every answer
stored, marked synthetic); their answers follow no behaviour model, so planted effects belong to the engine
participants (:mod:`study_app.simulate.run`).
"""

from __future__ import annotations

import os
import random
import secrets
import shutil
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from study_app.study.screening import SIMULATE_PARAM

TIMEOUT_MS = 60_000
MAX_PAGES = 600  # a bound on one walk: no study has that many pages; a page that never moves ends the walk
CHROMIUM_ENV = "XAI_STUDY_CHROMIUM"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TEXT_ANSWER = "Answer typed by xai-study simulate --browser."

# Settled: the script run finished and nothing of the previous run or a loading widget is left on the page.
SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && document.querySelectorAll('[data-stale="true"]').length === 0
        && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
}"""

# What identifies the page a participant is on: the keys of the widgets drawn (their ids carry the step id).
SIGNATURE_JS = """() => Array.from(document.querySelectorAll('[class*="st-key-"]'))
    .map(e => Array.from(e.classList).filter(c => c.startsWith('st-key-')).join(' ')).join('|')"""

SUBMIT = '[data-testid="stMain"] [data-testid="stBaseButton-primaryFormSubmit"]'
ADVICE = '[data-testid="stMain"] [class*="request_advice"] button'


class BrowserWalkError(RuntimeError):
    """The browser walk could not start (no Chromium, no Playwright browser); one line."""


@dataclass
class Walk:
    """One browser participant's walk: the pages answered, the seconds it took, how it ended."""

    pages: int = 0
    seconds: float = 0.0
    ended: str = ""  # "no more buttons" (the end or a screen-out), or why the walk stopped early
    stuck: list[str] = field(default_factory=list)


def chromium_path() -> str | None:
    """Chromium to drive: ``$XAI_STUDY_CHROMIUM``, else one on ``PATH``, else Playwright's own (``None``)."""
    given = os.environ.get(CHROMIUM_ENV)
    if given:
        return given
    return shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def link(base_url: str, key: str, rng: random.Random) -> str:
    """The simulator link with Prolific-shaped ids (24 hex digits each), as a recruited participant gets."""
    ids = {name: "".join(rng.choice("0123456789abcdef") for _ in range(24))
           for name in ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")}
    query = "&".join(f"{k}={v}" for k, v in {SIMULATE_PARAM: key, **ids}.items())
    return f"{base_url.rstrip('/')}/?{query}"


def settle(page, timeout: int = TIMEOUT_MS) -> None:
    page.wait_for_function(SETTLED_JS, timeout=timeout)


def _press(locator, tap: bool) -> None:
    """A click, or a tap (a touch screen's: the context must have ``has_touch``)."""
    if tap:
        locator.tap()
    else:
        locator.click()


def _answer_page(page, rng: random.Random, tap: bool = False) -> None:
    """Every choice and scale on the page answered (at random), every visible text box written in."""
    for group in page.locator('[data-testid="stMain"] [role="radiogroup"]').all():
        labels = group.locator("label")
        if labels.count() and not group.locator('input[type="radio"]:checked').count():
            _press(labels.nth(rng.randrange(labels.count())), tap)
    for place, box in enumerate(page.locator('[data-testid="stMain"] [role="combobox"]').all()):
        _press(box, tap)  # a ranking: a different option in each place
        options = page.get_by_role("option")
        _press(options.nth(min(place, options.count() - 1)), tap)
    for box in page.locator('[data-testid="stMain"] textarea:visible').all():
        if not box.input_value():
            box.fill(TEXT_ANSWER)


def next_page(page, before: str, timeout_ms: int) -> bool:
    """Wait until the page shows other widgets than ``before`` and has settled; ``False`` when it stays."""
    try:
        page.wait_for_function(f"() => ({SETTLED_JS})() && ({SIGNATURE_JS})() !== {before!r}", timeout=timeout_ms)
        return True
    except Exception:  # noqa: BLE001 - Playwright's TimeoutError: the same page again (a retry, a warning)
        settle(page)
        return False


def walk_one(page, url: str, rng: random.Random, on_page: Callable[[object], None] | None = None, *,
             tap: bool = False) -> Walk:
    """Walk one participant from the study link to a page without a primary button; ``on_page(page)`` is called
    on every settled page before it is answered (and on the last one), e.g. to audit it; ``tap``: tap instead
    of clicking (a phone's touch screen)."""
    walk, started, same = Walk(), time.monotonic(), 0
    page.goto(url, timeout=TIMEOUT_MS)
    settle(page)
    while walk.pages < MAX_PAGES:
        before = page.evaluate(SIGNATURE_JS)
        if on_page is not None:
            on_page(page)
        advice = page.locator(ADVICE)
        if advice.count():
            _press(advice.first, tap)
            next_page(page, before, TIMEOUT_MS)
            continue
        submit = page.locator(SUBMIT)
        if not submit.count():
            walk.ended = "no more buttons"
            break
        _answer_page(page, rng, tap)
        _press(submit.first, tap)
        walk.pages += 1
        if next_page(page, before, 15_000):
            same = 0
            continue
        same += 1
        if same >= 5:  # the page refuses every answer: say so rather than loop
            walk.stuck.append(page.locator('[data-testid="stMain"]').inner_text()[:300])
            walk.ended = "the same page five times"
            break
    else:
        walk.ended = f"stopped after {MAX_PAGES} pages"
    walk.seconds = time.monotonic() - started
    return walk


def walk_browsers(base_url: str, key: str, count: int, *, seed: int = 0,
                  progress: Callable[[str], None] = print) -> list[Walk]:
    """``count`` participants walked one after the other, each in a fresh browser context. Playwright's sync
    API refuses a thread with a running event loop (a notebook, a test session's own browser), so the walk runs
    in a thread of its own."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="simulate-browser") as pool:
        return pool.submit(_walk_all, base_url, key, count, seed, progress).result()


def _walk_all(base_url: str, key: str, count: int, seed: int, progress: Callable[[str], None]) -> list[Walk]:
    from playwright.sync_api import Error as PlaywrightError  # heavy, only for --browser: deferred
    from playwright.sync_api import sync_playwright  # heavy, only for --browser: deferred

    rng = random.Random(seed)
    walks: list[Walk] = []
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        except PlaywrightError as exc:
            raise BrowserWalkError(f"cannot start Chromium ({str(exc).splitlines()[0]}); install it (Debian: apt-get "
                                   f"install chromium) or set ${CHROMIUM_ENV} to its path") from None
        try:
            for i in range(count):
                context = browser.new_context(viewport={"width": 1440, "height": 900})
                try:
                    walk = walk_one(context.new_page(), link(base_url, key, rng), rng)
                finally:
                    context.close()
                walks.append(walk)
                progress(f"browser participant {i + 1}/{count}: {walk.pages} pages in {walk.seconds:.0f} s "
                         f"({walk.ended})")
        finally:
            browser.close()
    return walks


def new_password() -> str:
    """A one-off researcher password for the simulation's server (nobody logs in)."""
    return secrets.token_urlsafe(18)
