"""Small Playwright helpers for Streamlit pages: wait for text, choose radio options, click, screenshot.

Streamlit re-renders asynchronously after every interaction, so every step waits for text that only the
*next* state shows, with generous timeouts for slow CI machines; nothing relies on a fixed sleep.
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from study_app.simulate.browser_walk import SETTLED_JS  # the one definition of a settled page

TIMEOUT_MS = 60_000


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


DECISION_INITIAL = "What does the image show?"
DECISION_FINAL = "Your final answer"
DECISION_SOLE = "Your answer"  # a trial that asks once: the human arm, one-step, an attention check
DECISION_ADVICE = "Show the AI's advice"


def answer_decision_trial(page: Page, answer: str, *, request_advice: bool = True,
                          timeout: int = TIMEOUT_MS) -> dict:
    """One decision trial, whichever arm: the own answer (when asked: arms with advice in two-step designs),
    then the advice (asked for when it is given on request and ``request_advice``) and the final answer (with
    the first answer in view), or the one answer of a trial that asks once. Returns what the page showed: ``phases``, ``advice_button``, ``prediction`` (shown with the final
    answer) and ``maps`` (decoded pictures besides the image)."""
    seen = {"phases": [], "advice_button": False, "prediction": False, "maps": 0}
    final = DECISION_FINAL
    expect(page.get_by_role("radiogroup", name=DECISION_INITIAL).or_(
        page.get_by_role("radiogroup", name=DECISION_FINAL)).or_(
        page.get_by_role("radiogroup", name=DECISION_SOLE))).to_be_visible(timeout=timeout)
    if page.get_by_role("radiogroup", name=DECISION_INITIAL).count():
        assert page.get_by_text("The model predicts").count() == 0, "no advice before the own answer"
        choose(page, DECISION_INITIAL, answer)
        choose(page, "How confident are you?", "3")
        seen["phases"].append("initial")
        click(page, "Continue")
        wait_text(page, DECISION_FINAL, timeout)
        wait_text(page, "Your first answer", timeout)
    elif page.get_by_role("radiogroup", name=DECISION_SOLE).count():
        final = DECISION_SOLE
    seen["phases"].append("final")
    if page.get_by_role("button", name=DECISION_ADVICE).count():
        seen["advice_button"] = True
        assert page.get_by_text("The model predicts").count() == 0, "the advice waits for the request"
        if request_advice:
            click(page, DECISION_ADVICE)
            wait_text(page, "The model predicts", timeout)
    seen["prediction"] = page.get_by_text("The model predicts").count() > 0
    images = page.locator("[data-testid='stImage'] img")
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=timeout)
    seen["maps"] = images.count() - 1
    choose(page, final, answer)
    choose(page, "How confident are you?", "4")
    click(page, "Continue")
    return seen
