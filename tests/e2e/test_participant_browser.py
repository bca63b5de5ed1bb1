"""A participant in a real browser: consent → questionnaire → three trials → reload → finish.

Runs against ``streamlit run study_app/main.py`` on a free port (``e2e_server``: tiny real checkpoint,
generated stimuli, precomputed attribution cache, temporary SQLite), drives Debian's Chromium through the
whole study, answers one trial by keyboard only, checks a trial at phone width, reloads mid-study, and
then checks the rows in the database. A screenshot of each page goes to ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from e2e.browser_steps import TIMEOUT_MS, choose, click, shot, wait_text
from e2e.study_setup import open_repository

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_TRIALS = 4
PID = "e2e-pid-1"


def answer_questionnaire(page) -> None:
    choose(page, "What is your age?", "25-34")
    choose(page, "How much experience do you have with machine learning?", "I have used ML tools")
    choose(page, "How familiar are you with the kind of images in this study?", "4")
    click(page, "Continue")


def answer_trial(page, decision: str, confidence: str) -> None:
    choose(page, "Is the model's prediction correct?", decision)
    choose(page, "How confident are you?", confidence)
    click(page, "Continue")


def answer_trial_by_keyboard(page) -> None:
    """Reject with confidence 2 using only keys: Space picks, arrows move within a group, Enter submits."""
    decision = page.get_by_role("radiogroup", name="Is the model's prediction correct?")
    decision.get_by_role("radio").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    expect(decision.get_by_role("radio", name="No, the prediction is wrong")).to_be_checked()
    confidence = page.get_by_role("radiogroup", name="How confident are you?")
    confidence.get_by_role("radio").first.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    expect(confidence.get_by_role("radio", name="2", exact=True)).to_be_checked()
    page.get_by_role("button", name="Continue").focus()
    page.keyboard.press("Enter")


def expect_maps_and_alt_text(page) -> None:
    """The trial shows the picture and its explanation map, every image with alt text."""
    images = page.locator("[data-testid='stImage'] img")
    expect(images.nth(1)).to_be_visible(timeout=TIMEOUT_MS)
    alts = images.evaluate_all("els => els.map(e => e.getAttribute('alt'))")
    assert len(alts) >= 2 and all(alts), alts
    assert any("strongest evidence" in a or "no region" in a for a in alts), alts


def check_phone_width(chromium, url: str, artifacts, name: str) -> None:
    """The same trial in a phone-sized window: nothing wider than the screen, the form reachable."""
    phone = chromium.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                 has_touch=True)
    try:
        page = phone.new_page()
        page.goto(url)
        wait_text(page, "Image 2 of")
        overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 1, f"page is {overflow}px wider than a phone screen"
        expect(page.get_by_role("button", name="Continue")).to_be_visible()
        shot(page, artifacts, name)
    finally:
        phone.close()


def test_participant_completes_the_study_in_a_real_browser(chromium, e2e_server, artifacts):
    setup, server = e2e_server
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"{server.url}/?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x1")
        wait_text(page, "You agree to take part.")
        shot(page, artifacts, "01_consent")
        click(page, "I agree — start the study")

        wait_text(page, "A few questions about you")
        shot(page, artifacts, "02_pre_questionnaire")
        answer_questionnaire(page)

        wait_text(page, "A worked example")
        shot(page, artifacts, "03_instructions")
        click(page, "I understand — begin")

        wait_text(page, f"Image 1 of {N_TRIALS}")
        expect_maps_and_alt_text(page)
        shot(page, artifacts, "04_trial_1")
        answer_trial(page, "Yes, the prediction is correct", "7")

        wait_text(page, f"Image 2 of {N_TRIALS}")
        check_phone_width(chromium, page.url, artifacts, "04_trial_2_phone")
        shot(page, artifacts, "04_trial_2")
        answer_trial_by_keyboard(page)

        wait_text(page, f"Image 3 of {N_TRIALS}")
        shot(page, artifacts, "04_trial_3")
        answer_trial(page, "Yes, the prediction is correct", "5")

        wait_text(page, f"Image 4 of {N_TRIALS}")
        token = re.search(r"[?&]p=([A-Za-z0-9_-]+)", page.url).group(1)
        page.reload()  # a reload starts a fresh Streamlit session: it must resume from the URL token
        wait_text(page, f"Image 4 of {N_TRIALS}")
        assert f"p={token}" in page.url
        assert page.get_by_text("You agree to take part.").count() == 0
        shot(page, artifacts, "05_trial_4_after_reload")
        answer_trial(page, "No, the prediction is wrong", "1")

        wait_text(page, "Thank you!")
        wait_text(page, "DONE-42")
        shot(page, artifacts, "06_done")
        link = page.get_by_role("link", name=re.compile("Return to Prolific"))
        assert link.get_attribute("href") == "https://app.prolific.com/submissions/complete?cc=DONE-42"
        assert "Traceback" not in page.content()
        assert not dialogs
    finally:
        context.close()

    repo, record = open_repository(setup)
    try:
        participant = next(p for p in repo.participants(record.id) if p.prolific_pid == PID)
        assert participant.status == "completed"
        responses = [r for r in repo.responses(record.id) if r.participant_id == participant.id]
        assert [r.trial_index for r in responses] == list(range(N_TRIALS))
        assert [r.answer for r in responses] == [
            {"decision": "accept", "confidence": 7}, {"decision": "reject", "confidence": 2},
            {"decision": "accept", "confidence": 5}, {"decision": "reject", "confidence": 1},
        ]
        assert all(r.response_time_ms is not None and r.response_time_ms >= 0 for r in responses)
        pre = {q.question_id: q.answer for q in repo.questionnaire_answers(record.id)
               if q.participant_id == participant.id}
        assert pre == {"age_band": "25-34", "ml_experience": "I have used ML tools", "domain_expertise": 4}
        kinds = [e.kind for e in repo.events(record.id) if e.participant_id == participant.id]
        assert kinds[0] == "consent" and kinds[-1] == "completion"
        assert kinds.count("answer") == N_TRIALS + 2  # questionnaire, instructions, four trials
    finally:
        repo.dispose()


def test_participant_withdraws_through_the_dialog_in_a_real_browser(chromium, e2e_server, artifacts):
    """Withdrawal is one small button per screen; the confirmation opens in a dialog (a fragment in the
    browser: ticking its checkbox reruns only the dialog), and withdrawing deletes the participant."""
    setup, server = e2e_server
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        page.goto(f"{server.url}/?PROLIFIC_PID=e2e-withdraws&STUDY_ID=s1&SESSION_ID=x2")
        click(page, "I agree — start the study")
        wait_text(page, "A few questions about you")
        answer_questionnaire(page)
        wait_text(page, "A worked example")
        click(page, "I understand — begin")
        wait_text(page, f"Image 1 of {N_TRIALS}")
        answer_trial(page, "Yes, the prediction is correct", "6")
        wait_text(page, f"Image 2 of {N_TRIALS}")
        assert page.get_by_role("checkbox").count() == 0  # nothing of the withdrawal is sent before it is asked for
        click(page, "Withdraw from the study")
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible()
        page.keyboard.press("Escape")  # changed their mind: the dialog closes and stays closed
        expect(dialog).to_be_hidden()
        answer_trial(page, "No, the prediction is wrong", "3")
        wait_text(page, f"Image 3 of {N_TRIALS}")
        expect(dialog).to_be_hidden()
        click(page, "Withdraw from the study")
        expect(dialog).to_be_visible()
        withdraw = dialog.get_by_role("button", name="Withdraw and delete my answers")
        expect(withdraw).to_be_disabled()
        dialog.get_by_text("Yes, delete my answers and leave the study").click()
        expect(withdraw).to_be_enabled()
        shot(page, artifacts, "07_withdrawal_dialog")
        withdraw.click()
        wait_text(page, "You have withdrawn")
        assert "Traceback" not in page.content()
    finally:
        context.close()
    repo, record = open_repository(setup)
    try:
        assert not [p for p in repo.participants(record.id) if p.prolific_pid == "e2e-withdraws"]
    finally:
        repo.dispose()
