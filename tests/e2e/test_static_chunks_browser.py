"""A participant whose browser cannot load one of Streamlit's code chunks recovers by itself and finishes.

Streamlit fetches a widget's code the first time a page uses it; on a crowded server a browser can lose that
fetch and show "Failed to fetch dynamically imported module" where the answer buttons belong. Here Chromium
is refused the radio buttons' chunk for the whole first page load (the preload and the import alike). The
page must reload itself with the same address (``study_app/ui/chunk_recovery.js``), get the chunk the second
time, resume the participant at the screen they were on and let them finish; the database must hold every
answer once.
"""

from __future__ import annotations

import re

import pytest

from e2e.browser_steps import TIMEOUT_MS, click, wait_text
from e2e.study_setup import open_repository
from e2e.test_participant_browser import N_TRIALS, answer_questionnaire, answer_trial

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHUNK = re.compile(r"/static/js/Radio\.[^/]+\.js$")  # the questionnaire's and every trial's radio buttons


def test_a_page_that_fails_to_load_a_chunk_reloads_and_the_participant_finishes(chromium, e2e_server):
    setup, server = e2e_server
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    loads, refused, addresses = [], [], []

    def chunk(route) -> None:
        if len(loads) <= 1:  # the first page load: the chunk cannot be fetched, however often it is asked for
            refused.append(route.request.url)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.on("domcontentloaded", lambda p: loads.append(p.url))  # full loads only, not address updates
    page.route(CHUNK, chunk)
    try:
        page.goto(f"{server.url}/?PROLIFIC_PID=chunk-pid")
        wait_text(page, "You agree to take part.")
        click(page, "I agree — start the study")
        addresses.append(page.url)
        wait_text(page, "A few questions about you")  # after the reload: the questionnaire's radios are there
        answer_questionnaire(page)
        wait_text(page, "A worked example")
        click(page, "I understand — begin")
        for i in range(N_TRIALS):
            wait_text(page, f"Image {i + 1} of {N_TRIALS}")
            answer_trial(page, "Yes, the prediction is correct", "4")
        wait_text(page, "DONE-42")
    finally:
        context.close()

    assert refused, "the radio chunk was never requested: the test blocked nothing"
    token = re.search(r"[?&]p=([A-Za-z0-9_-]+)", addresses[0]).group(1)
    assert len(loads) == 2, f"expected one reload, got page loads {loads}"
    assert f"p={token}" in loads[1], "the page reloaded without the participant's token"
    repo, record = open_repository(setup)
    try:
        participant = next(p for p in repo.participants(record.id) if p.prolific_pid == "chunk-pid")
        assert participant.status == "completed"
        responses = [r for r in repo.responses(record.id) if r.participant_id == participant.id]
        assert [r.trial_index for r in responses] == list(range(N_TRIALS))
        answers = [q for q in repo.questionnaire_answers(record.id) if q.participant_id == participant.id]
        assert len(answers) == len({q.question_id for q in answers}) == 3
    finally:
        repo.dispose()
