"""A participant in a real browser: consent → questionnaire → three trials → reload → finish.

Starts ``streamlit run study_app/main.py`` on a free port against a test study (tiny real checkpoint,
generated stimuli, precomputed attribution cache) and a temporary SQLite file, drives Debian's Chromium
through the whole study, reloads mid-study, and then checks the rows in the database. A screenshot of
each page is saved under ``test-artifacts/e2e/``.
"""

from __future__ import annotations

import re

import pytest

from e2e.browser_steps import TIMEOUT_MS, choose, click, shot, wait_text
from e2e.streamlit_server import StreamlitServer
from e2e.study_setup import make_e2e_study, open_repository, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

N_TRIALS = 4


def answer_questionnaire(page) -> None:
    choose(page, "What is your age?", "25-34")
    choose(page, "How much experience do you have with machine learning?", "I have used ML tools")
    choose(page, "How familiar are you with the kind of images in this study?", "4")
    click(page, "Continue")


def answer_trial(page, decision: str, confidence: str) -> None:
    choose(page, "Is the model's prediction correct?", decision)
    choose(page, "How confident are you?", confidence)
    click(page, "Continue")


def test_participant_completes_the_study_in_a_real_browser(chromium, artifacts, tmp_path):
    setup = make_e2e_study(tmp_path, trials=N_TRIALS)
    with StreamlitServer(server_env(setup), artifacts / "server.log") as server:
        context = chromium.new_context(viewport={"width": 1100, "height": 900})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        try:
            page.goto(f"{server.url}/?PROLIFIC_PID=e2e-pid-1&STUDY_ID=s1&SESSION_ID=x1")
            wait_text(page, "You agree to take part.")
            shot(page, artifacts, "01_consent")
            click(page, "I agree — start the study")

            wait_text(page, "A few questions about you")
            shot(page, artifacts, "02_pre_questionnaire")
            answer_questionnaire(page)

            wait_text(page, "Instructions")
            wait_text(page, "A worked example")
            shot(page, artifacts, "03_instructions")
            click(page, "I understand — begin")

            answers = [("Yes, the prediction is correct", "7"), ("No, the prediction is wrong", "2"),
                       ("Yes, the prediction is correct", "5")]
            for i, (decision, confidence) in enumerate(answers, start=1):
                wait_text(page, f"Image {i} of {N_TRIALS}")
                expect_maps_and_alt_text(page)
                shot(page, artifacts, f"04_trial_{i}")
                answer_trial(page, decision, confidence)

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
            assert page.get_by_role("link", name=re.compile("Return to Prolific")).get_attribute("href") == \
                "https://app.prolific.com/submissions/complete?cc=DONE-42"
            assert "Traceback" not in page.content()
        finally:
            context.close()
        log = server.log_text()
    assert "Traceback" not in log, log[-3000:]

    repo, record = open_repository(setup)
    try:
        participants = repo.participants(record.id)
        assert len(participants) == 1
        assert participants[0].status == "completed"
        assert participants[0].prolific_pid == "e2e-pid-1"  # the test study keeps external ids
        responses = list(repo.responses(record.id))
        assert [r.trial_index for r in responses] == list(range(N_TRIALS))
        assert [r.answer for r in responses] == [
            {"decision": "accept", "confidence": 7}, {"decision": "reject", "confidence": 2},
            {"decision": "accept", "confidence": 5}, {"decision": "reject", "confidence": 1},
        ]
        assert all(r.response_time_ms is not None and r.response_time_ms >= 0 for r in responses)
        pre = {q.question_id: q.answer for q in repo.questionnaire_answers(record.id)}
        assert pre == {"age_band": "25-34", "ml_experience": "I have used ML tools", "domain_expertise": 4}
        kinds = [e.kind for e in repo.events(record.id)]
        assert kinds[0] == "consent" and kinds[-1] == "completion"
    finally:
        repo.dispose()


def expect_maps_and_alt_text(page) -> None:
    """The trial shows the picture and at least one explanation map, every image with alt text."""
    from playwright.sync_api import expect

    images = page.locator("[data-testid='stImage'] img")
    expect(images.nth(1)).to_be_visible(timeout=TIMEOUT_MS)
    alts = images.evaluate_all("els => els.map(e => e.getAttribute('alt'))")
    assert len(alts) >= 2 and all(alts), alts
