"""The bundled demo completed with the keyboard alone (Tab, Space, arrows, Enter), with the focus visible on
every kind of control.

A participant who cannot use a pointer tabs through each page: a choice is made with Space and the arrow keys
(an attention check as it asks), a drop-down with the arrows and Enter, a text box typed into, the advice
button and the page's button pressed with Enter. "Visible" is measured, not read from styles: the pixels
around each focused control are compared with the same pixels once the focus has moved on, and at least
:data:`MIN_CHANGED_PX` of them must differ by more than :data:`MIN_DIFF` (of 255) in some channel, which a
faint background tint does not reach. Each kind of control (test id, tag, type, role) is measured on its first
:data:`MEASURED_PER_KIND` stops; the rest are tabbed through and used. Landmarks the skip link focuses
(``<main>``) are not controls and are left out.
"""

from __future__ import annotations

import io
import re
from collections import Counter

import numpy as np
import pytest
from PIL import Image

from e2e.streamlit_server import StreamlitServer
from e2e.study_setup import E2EStudy
from e2e.test_demo_browser import ARTIFACTS as DEMO_ARTIFACTS
from e2e.test_demo_browser import DEMO_CACHE, DEMO_STUDY, fresh_clone_env  # noqa: F401 - a fixture

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = DEMO_ARTIFACTS.parent / "keyboard"
MIN_DIFF = 60
MIN_CHANGED_PX = 12
RING_MS = 60  # a frame or two to paint (transitions are switched off: NO_TRANSITIONS)
# Focus rings fade in and out over Streamlit's transitions; the test measures where they end, so it switches the
# transitions off rather than waiting for each (the end state, and so the measurement, is the same).
NO_TRANSITIONS = "*, *::before, *::after { transition: none !important; animation: none !important; }"
MAX_TABS = 150  # per page: more stops than any page has, twice over
MEASURED_PER_KIND = 3  # focus stops measured per kind of control (test id, tag, type, role): the first three, on
# whatever page they come; the demo's later pages repeat the same controls, and measuring every stop doubled the
# walk's time without finding anything the first stops did not

FOCUSED_JS = """() => {
  const e = document.activeElement;
  if (!e || e === document.body || e.tagName === 'MAIN') return null;
  const group = e.closest('[role="radiogroup"]');
  const area = e.closest('label') || e.closest('[data-testid="stTextArea"], [data-testid="stSelectbox"]') || e;
  const r = area.getBoundingClientRect();
  const testid = (e.closest('[data-testid]') || {dataset: {}}).dataset.testid || '';
  return {
    tag: e.tagName, type: e.type || '', role: e.getAttribute('role') || '', testid,
    name: (e.getAttribute('aria-label') || e.innerText || '').trim().slice(0, 60),
    advice: !!e.closest('[class*="request_advice"]'),
    options: group ? Array.from(group.querySelectorAll('label')).map(l => l.innerText.trim()) : [],
    checked: group ? Array.from(group.querySelectorAll('input')).findIndex(i => i.checked) : -1,
    box: {x: Math.max(0, r.x - 6), y: Math.max(0, r.y - 6), width: r.width + 12, height: r.height + 12},
  };
}"""
UNANSWERED_JS = """() => Array.from(document.querySelectorAll('[data-testid="stMain"] [role="radiogroup"]'))
  .filter(g => !g.querySelector('input:checked')).length"""


def _pixels(page, box) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(page.screenshot(clip=box))).convert("RGB"), dtype=np.int16)


def _wanted(page_text: str, options: list[str]) -> int:
    """The option an attention check asks for (quoted, or a number on the scale), else the first."""
    asked = re.search(r"Attention check: please choose “([^”]+)”", page_text) or \
        re.search(r"Attention check: please choose (\d+) on the scale", page_text)
    if asked and asked.group(1) in options:
        return options.index(asked.group(1))
    return 0


class FocusRecord:
    """The pixels of the last focused control, compared once the focus has moved on."""

    def __init__(self):
        self.last: tuple[dict, np.ndarray] | None = None
        self.invisible: list[str] = []
        self.stops = 0
        self.measured: Counter = Counter()  # focus stops measured per kind of control

    def moved(self, page) -> None:
        if self.last is None:
            return
        info, focused = self.last
        now = _pixels(page, info["box"])
        if now.shape == focused.shape:
            changed = int((np.abs(now - focused).max(axis=2) > MIN_DIFF).sum())
            if changed < MIN_CHANGED_PX:
                self.invisible.append(f"{info['testid'] or info['tag']} {info['name']!r} ({changed} px changed)")
        self.last = None

    def focused(self, page, info: dict, acted: bool) -> None:
        self.stops += 1
        kind = (info["testid"], info["tag"], info["type"], info["role"])
        if self.measured[kind] >= MEASURED_PER_KIND:
            return
        self.measured[kind] += 1
        if acted:
            page.wait_for_timeout(RING_MS)  # the control's own change settles
        self.last = (info, _pixels(page, info["box"]))


def keyboard_page(page, record: FocusRecord, combos: list[int]) -> str:
    """Answer the page with keys; ``"submitted"``, ``"rerun"`` (the advice was asked for) or ``"end"``."""
    text = page.locator('[data-testid="stMain"]').inner_text()
    if not page.locator('[data-testid="stMain"] [data-testid="stBaseButton-primaryFormSubmit"]').count():
        return "end"
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")
        if record.last is not None:  # the control left behind is being measured: let its ring go
            page.wait_for_timeout(RING_MS)
            record.moved(page)
        info = page.evaluate(FOCUSED_JS)
        if info is None or info["box"]["width"] <= 12:
            continue
        acted = True
        if info["type"] == "radio" and info["checked"] < 0:
            page.keyboard.press("Space")
            for _ in range(_wanted(text, info["options"])):
                page.keyboard.press("ArrowRight")
        elif info["tag"] == "TEXTAREA" and not page.evaluate("() => document.activeElement.value"):
            page.keyboard.type("Typed with the keyboard only.")
        elif info["role"] == "combobox":
            page.keyboard.press("ArrowDown")
            for _ in range(len(combos)):
                page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
            combos.append(1)
        else:
            acted = False
        record.focused(page, info, acted)
        if info["advice"]:
            page.keyboard.press("Enter")
            record.last = None  # the page changes: nothing to compare
            return "rerun"
        if info["testid"] == "stBaseButton-primaryFormSubmit" and page.evaluate(UNANSWERED_JS) == 0:
            page.keyboard.press("Enter")
            record.last = None
            return "submitted"
    raise AssertionError(f"no way through the page with {MAX_TABS} Tab presses: {text[:300]!r}")


@pytest.mark.usefixtures("fresh_clone_env")
def test_the_demo_can_be_completed_with_the_keyboard_alone(chromium, tmp_path):
    from study_app.simulate.browser_walk import SIGNATURE_JS, next_page, settle  # noqa: PLC0415

    setup = E2EStudy(study_file=DEMO_STUDY, db_path=tmp_path / "responses.sqlite", cache_dir=DEMO_CACHE)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    record = FocusRecord()
    with StreamlitServer({"XAI_STUDY_DB_URL": setup.db_url}, ARTIFACTS / "server.log") as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 1000})
        page = context.new_page()
        try:
            page.goto(server.url)
            settle(page)
            page.add_style_tag(content=NO_TRANSITIONS)
            pages, outcome = 0, ""
            while pages < 80:
                before = page.evaluate(SIGNATURE_JS)
                outcome = keyboard_page(page, record, combos=[])
                if outcome == "end":
                    break
                pages += outcome == "submitted"
                assert next_page(page, before, 30_000), f"page {pages} did not move on after {outcome}"
            page.screenshot(path=str(ARTIFACTS / "end.png"), full_page=True)
        finally:
            context.close()
    assert outcome == "end" and pages >= 15, (outcome, pages)
    repo_status = _statuses(setup)
    assert repo_status == ["completed"], repo_status
    assert record.stops > 3 * pages and len(record.measured) >= 5, (record.stops, record.measured)
    assert not record.invisible, "focus not visible at:\n" + "\n".join(record.invisible)


def _statuses(setup: E2EStudy) -> list[str]:
    from e2e.study_setup import open_repository  # noqa: PLC0415

    repo, study = open_repository(setup)
    try:
        return [p.status for p in repo.participants(study.id)]
    finally:
        repo.dispose()
