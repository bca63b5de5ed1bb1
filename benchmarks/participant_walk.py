"""A participant in Chromium who answers whatever a screen asks, for the click-cost and load benchmarks.

The walker knows no study: on each screen it answers every radio group, text box and selectbox (a
different choice per screen), clicks the screen's primary button, and waits until the next screen has
settled. Times come from the page's own clock (``performance.now()``), so the figures are what the
participant's browser saw:

* settled: the new screen's text is on the page, Streamlit reports no script run going on, no stale
  element and no loading placeholder left (Streamlit fetches a widget's code the first time a page uses
  it and shows a skeleton meanwhile: a starved browser can show a form's button well before its radios),
  and it stayed so for ``QUIET_MS`` (a run can be followed by another);
* images: every picture on the new screen has decoded (the latest picture load, if later than settled).
"""

from __future__ import annotations

import asyncio
import random
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from e2e.browser_steps import SETTLED_JS  # the e2e tests' own test of a settled page

TIMEOUT_MS = 180_000
QUIET_MS = 1000
MAX_SCREENS = 100
PRIMARY = "[data-testid='stBaseButton-primaryFormSubmit'], [data-testid='stBaseButton-primary']"
MAIN = "[data-testid='stMain']"

# Before a click: count every change of Streamlit's script-run state from now on (a screen that answers the
# click with the same text, e.g. a refusal shown twice, still ran the script).
WATCH_RUNS_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    window.__xaiRuns = 0;
    if (window.__xaiObserver) window.__xaiObserver.disconnect();
    window.__xaiObserver = new MutationObserver(records => { window.__xaiRuns += records.length; });
    window.__xaiObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
    return performance.now();
}"""
# Resolves with the performance.now() at which the new screen settled and then stayed so for ``quiet`` ms.
SETTLED_AT_JS = """([before, quiet]) => new Promise(resolve => {
    let since = null;
    const tick = () => {
        const app = document.querySelector('[data-testid="stApp"]');
        const main = document.querySelector('[data-testid="stMain"]');
        const ok = app !== null && main !== null && (main.innerText !== before || window.__xaiRuns > 0)
            && app.dataset.testScriptState === 'notRunning'
            && document.querySelectorAll('[data-stale="true"]').length === 0
            && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
        const now = performance.now();
        if (!ok) since = null;
        else if (since === null) since = now;
        else if (now - since >= quiet) return resolve(since);
        setTimeout(tick, 5);
    };
    tick();
})"""
# Resolves once every picture has decoded, with the latest load end of a picture requested since ``t0``.
IMAGES_AT_JS = """([t0]) => new Promise(resolve => {
    const tick = () => {
        const imgs = [...document.querySelectorAll("[data-testid='stMain'] img")];
        if (imgs.every(i => i.complete && i.naturalWidth > 0)) {
            const ends = performance.getEntriesByType('resource')
                .filter(e => e.initiatorType === 'img' && e.startTime >= t0).map(e => e.responseEnd);
            return resolve(Math.max(0, ...ends));
        }
        setTimeout(tick, 5);
    };
    tick();
})"""



@dataclass(frozen=True)
class Click:
    screen: int
    settled_s: float  # click -> next screen settled
    images_s: float  # click -> every picture on it loaded
    refused: bool = False  # the app asked for the answers again (the walker then answers once more)


class Refused(RuntimeError):
    """The app refused the walker's answers (a screen it could not fill in)."""


async def answer_screen(page, n: int) -> None:
    """Answer every radio group, text box and selectbox on the screen."""
    groups = page.get_by_role("radiogroup")
    for g in range(await groups.count()):
        labels = groups.nth(g).locator("label")
        choice = (n + g) % await labels.count()
        await labels.nth(choice).click()
        # As a person would, see the choice taken before moving on (a starved browser can lag behind).
        await groups.nth(g).get_by_role("radio").nth(choice).wait_for(state="attached")
        await page.wait_for_function(
            "([g, k]) => document.querySelectorAll('[role=radiogroup]')[g]"
            ".querySelectorAll('input[type=radio]')[k].checked", arg=[g, choice], timeout=TIMEOUT_MS)
    boxes = page.locator(f"{MAIN} textarea")
    for b in range(await boxes.count()):
        await boxes.nth(b).fill(f"answer {n}")
    selects = page.get_by_role("combobox")
    for s in range(await selects.count()):
        await selects.nth(s).click()
        options = page.get_by_role("option")
        await options.nth(s % await options.count()).click()


def token_of(url: str) -> str | None:
    """The participant token the app wrote into the address (``?p=...``)."""
    return (parse_qs(urlparse(url).query).get("p") or [None])[0]


async def walk(page, url: str, *, think: Callable[[], float] | None = None,
               on_click: Callable[[Click], None] | None = None, retries: int = 0) -> str | None:
    """One participant from the first screen to the end; returns their token. ``think()`` gives the seconds
    to pause on each screen before answering (a person reading); ``on_click`` receives every click. A screen
    that refuses the answers is answered again up to ``retries`` times in all (as a person would), each
    refusal reported as a refused click; beyond that the walk fails with :class:`Refused`."""
    refusals = 0
    await page.goto(url)
    await page.locator(PRIMARY).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    await page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)
    for n in range(MAX_SCREENS):
        button = page.locator(PRIMARY)
        if await button.count() == 0:
            return token_of(page.url)
        if think is not None:
            await asyncio.sleep(think())
        await answer_screen(page, n)
        before = await page.inner_text(MAIN)
        start = await page.evaluate(WATCH_RUNS_JS)
        await button.first.click()
        settled = await asyncio.wait_for(page.evaluate(SETTLED_AT_JS, [before, QUIET_MS]), TIMEOUT_MS / 1000)
        loaded = max(settled, await asyncio.wait_for(page.evaluate(IMAGES_AT_JS, [start]), TIMEOUT_MS / 1000))
        refused = await page.get_by_text("Please answer").count() > 0
        if on_click is not None:
            on_click(Click(n, (settled - start) / 1000, (loaded - start) / 1000, refused))
        if refused:
            refusals += 1
            if refusals > retries:
                shot = Path(tempfile.gettempdir()) / f"walk_refused_{id(page)}.png"
                await page.screenshot(path=str(shot), full_page=True)
                raise Refused(f"screen {n} refused the walker's answers (screenshot {shot})")
    raise RuntimeError(f"no end after {MAX_SCREENS} screens")


def think_times(low: float, high: float, seed: int) -> Callable[[], float]:
    """Seconds on each screen, drawn uniformly from [low, high], reproducible per participant."""
    rng = random.Random(seed)
    return lambda: rng.uniform(low, high)
