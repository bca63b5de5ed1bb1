"""Small Playwright helpers for Streamlit pages: wait for text, choose radio options, click, screenshot.

Streamlit re-renders asynchronously after every interaction, so every step waits for text that only the
*next* state shows, with generous timeouts for slow CI machines; nothing relies on a fixed sleep.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

TIMEOUT_MS = 60_000


SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && document.querySelectorAll('[data-stale="true"]').length === 0
        && document.querySelectorAll('[data-testid="stSkeleton"]').length === 0;
}"""


def wait_settled(page: Page, timeout: int = TIMEOUT_MS) -> None:
    """Until the script run finished, no element of the previous run is left on the page and no widget is
    still loading (a skeleton while its code is fetched); before that, a click could land on the previous
    step's widgets, or a form be submitted before its questions appeared."""
    page.wait_for_function(SETTLED_JS, timeout=timeout)


def wait_text(page: Page, text: str, timeout: int = TIMEOUT_MS) -> None:
    """Until ``text`` is visible and the page has settled."""
    expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=timeout)
    wait_settled(page, timeout)


def choose(page: Page, group: str, option: str) -> None:
    """Pick ``option`` in the radio group labelled ``group`` (clicks its label, as a person would)."""
    radios = page.get_by_role("radiogroup", name=group)
    radios.get_by_text(option, exact=True).click()
    expect(radios.get_by_role("radio", name=option, exact=True)).to_be_checked(timeout=TIMEOUT_MS)


def click(page: Page, name: str) -> None:
    page.get_by_role("button", name=name).click()


def shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
