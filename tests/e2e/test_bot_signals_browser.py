"""Bot and LLM-agent signals in Chromium (issue 25 item 4): a keyboard-only trial is not flagged, the hidden item
for agents is in the DOM but neither in the accessibility tree nor in the tab order, a paste into a free-text
item is counted (and machine-regular typing flagged), and filling the hidden item through the DOM, as an agent
would, raises the flag. The flags are read back from the real export."""

from __future__ import annotations

import json

import pytest

from e2e.browser_steps import TIMEOUT_MS, click, wait_text
from e2e.study_setup import open_repository, served_tiny_study
from e2e.test_participant_browser import answer_questionnaire, answer_trial, answer_trial_by_keyboard

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

POST = """
[[post_questionnaire]]
id = "thoughts"
text = "Anything else?"
kind = "text"
"""
PASTED = "The model seemed to rely on the background more than on the animal itself."
TYPED = "the cat was clearly visible xx"  # 30 keys at a fixed delay: 29 intervals
HONEYPOT = "[data-xai-agent-check]"
# What an agent reading the DOM would do: find the instruction's field and type the word into it.
AGENT_FILLS_JS = """() => {
    const input = document.querySelector('[data-xai-agent-check] input');
    input.value = 'heliotrope';
    input.dispatchEvent(new Event('input', {bubbles: true}));
}"""


@pytest.fixture(scope="module")
def bot_server(tmp_path_factory):
    from e2e.conftest import ARTIFACTS, _require_browser

    _require_browser()
    log = ARTIFACTS / "bot_signals_server.log"
    with served_tiny_study(tmp_path_factory.mktemp("bot_server"), "bot-signals", log, trials=2, checks=0,
                           tail=POST) as server:
        yield server


def _hidden_from_people(page) -> None:
    """The hidden item is in the DOM (an agent reads it) but not in the accessibility tree, and Tab never
    reaches it."""
    page.wait_for_selector(f"{HONEYPOT} input", state="attached")
    assert "heliotrope" in page.evaluate("document.body.textContent")
    snapshot = page.locator("body").aria_snapshot()
    assert "Is the model's prediction correct?" in snapshot  # the snapshot does hold the trial
    assert "heliotrope" not in snapshot and "AI agents" not in snapshot
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")["nodes"]
    named = [str((n.get("name") or {}).get("value", "")) for n in tree if not n.get("ignored")]
    assert named and not any("heliotrope" in name or "AI agents" in name for name in named)
    page.locator("body").focus()
    reached = set()
    for _ in range(40):
        page.keyboard.press("Tab")
        inside, where = page.evaluate(f"""() => [Boolean(document.activeElement.closest('{HONEYPOT}')),
                                               document.activeElement.outerHTML.slice(0, 60)]""")
        assert not inside, where
        reached.add(where)
    assert len(reached) > 3  # Tab did move through the page's controls


def test_keyboard_walk_paste_and_an_agent_filling_the_hidden_item(chromium, bot_server):
    from e2e.conftest import ARTIFACTS
    from study_app.export import participant_rows, response_rows
    from study_app.study.bot_signals import PARTICIPANT_COLUMNS, TRIAL_COLUMNS

    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    sent: list[int] = []  # messages the page sent to the server: a script run needs one
    page.on("websocket", lambda ws: ws.on("framesent", lambda frame: sent.append(1)))
    try:
        page.goto(bot_server.url)
        wait_text(page, "I agree — start the study")
        click(page, "I agree — start the study")
        wait_text(page, "A few questions about you")
        answer_questionnaire(page)
        wait_text(page, "A worked example")
        click(page, "I understand — begin")
        wait_text(page, "Image 1 of 2")
        _hidden_from_people(page)
        answer_trial_by_keyboard(page)  # (a) Tab, Space, arrows, Enter: no pointer at all
        wait_text(page, "Image 2 of 2")
        page.evaluate(AGENT_FILLS_JS)  # (d) as an agent would, through the DOM
        answer_trial(page, "Yes, the prediction is correct", "6")
        wait_text(page, "Your overall impressions")
        box = page.get_by_label("Anything else?")
        box.click()
        before = len(sent)
        page.mouse.move(100, 100)
        page.mouse.move(700, 500, steps=25)
        page.keyboard.type(TYPED, delay=200)  # machine-regular typing
        page.evaluate("text => navigator.clipboard.writeText(text)", PASTED)
        page.keyboard.press("Control+V")  # (c) a real paste
        page.wait_for_function("text => document.querySelector('textarea').value.endsWith(text)", arg=PASTED)
        page.wait_for_timeout(500)
        assert len(sent) == before  # counting moves, keys and the paste cost no message, so no script run
        click(page, "Continue")
        wait_text(page, "Thank you!")
        assert len(sent) > before  # the counter does see the page's messages (the submit's)
    finally:
        context.close()
    repo, record = open_repository(bot_server.setup)
    try:
        trials = {r["trial_index"]: r for r in response_rows(repo, record)}
        (person,) = participant_rows(repo, record)
        steps = [{"stage": s.stage, "questionnaire": s.questionnaire, **s.signals} for s in repo.bot_signals(record.id)]
    finally:
        repo.dispose()
    first, second = trials[min(trials)], trials[max(trials)]
    measured = {"trials": [{c: r[c] for c in TRIAL_COLUMNS} for r in (first, second)],
                "participant": {c: person[c] for c in PARTICIPANT_COLUMNS}, "steps": steps}
    (ARTIFACTS / "bot_signals_measured.json").write_text(json.dumps(measured, indent=1), encoding="utf-8")
    assert first["key_presses"] >= 5 and first["pointer_clicks"] == 0, first
    assert first["flag_no_pointer_no_keys"] is False and first["flag_honeypot"] is False
    assert first["untrusted_events"] == 0
    assert second["flag_honeypot"] is True and second["honeypot"] is True
    assert second["untrusted_events"] >= 1  # the agent's script dispatched the input event
    assert second["pointer_clicks"] >= 3 and second["flag_no_pointer_no_keys"] is False
    assert person["paste_count"] == 1 and person["pasted_chars"] == len(PASTED)
    assert person["typed_chars"] == len(TYPED)
    (text,) = [s for s in steps if s["text_fields"]]
    assert text["key_intervals"] == len(TYPED) - 1  # Ctrl+V is a shortcut, not typing
    assert text["pointer_moves"] >= 26 and text["pointer_path_px"] >= 700  # the 25-step move, 721 px
    assert person["flag_paste"] is True and person["flag_paste_steps"] == 1
    assert person["flag_uniform_cadence"] is True, person
    assert person["flag_honeypot_steps"] == 1 and person["flag_no_pointer_no_keys_steps"] == 0
    assert set(person["quality_flags"].split()) >= {"paste", "uniform_cadence", "honeypot"}
