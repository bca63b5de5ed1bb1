"""The researcher area in a real browser: password, every page, participant text shown as text.

A simulated participant (the engine, in this process, on the server's database) leaves the comment
``<img src=x onerror=alert(1)>``; in the browser it must appear as those characters, with no image
element created and no script run.
"""

from __future__ import annotations

import random

import pytest
from playwright.sync_api import expect

from e2e.axe import audit, axe_source, describe, serious
from e2e.browser_steps import TIMEOUT_MS, shot, wait_settled, wait_text
from e2e.study_setup import E2E_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

XSS = "<img src=x onerror=alert(1)>"


def simulate_participant_with_comment(setup) -> None:
    from study.kit import answer_for

    from study_app.store import Repository, make_engine
    from study_app.study import StudyEngine, load_study

    engine = StudyEngine(load_study(setup.study_file), Repository(make_engine(setup.db_url)))
    try:
        token = engine.start_or_resume(None)
        step = engine.current_step(token)
        rng = random.Random(3)
        while step.kind != "done":
            answer = answer_for(step, rng)
            if step.kind == "trial":
                answer["comment"] = XSS
            step = engine.submit(token, step.step_id, answer)
    finally:
        engine.repository.dispose()


def go(page, title: str) -> None:
    """Follow the sidebar link (keeps the unlocked session, unlike typing a URL)."""
    page.get_by_test_id("stSidebar").get_by_role("link", name=title).click()


def test_researcher_area_in_a_real_browser(chromium, e2e_server, artifacts):
    """... and every researcher page passes the accessibility audit (axe-core, WCAG 2.2 A/AA: nothing serious;
    the rest printed)."""
    axe = axe_source()
    findings: dict[str, list[dict]] = {}
    setup, server = e2e_server
    simulate_participant_with_comment(setup)
    context = chromium.new_context(viewport={"width": 1300, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        page.goto(f"{server.url}/researcher")
        wait_text(page, "Researcher area")
        findings["09_login"] = audit(page, axe)
        field = page.get_by_label("Researcher password")
        field.fill("wrong password")
        field.press("Enter")
        wait_text(page, "Wrong password.")
        field.fill(E2E_PASSWORD)
        field.press("Enter")
        wait_text(page, "Readiness check")
        wait_text(page, "Ready to launch")
        shot(page, artifacts, "10_readiness")
        findings["10_readiness"] = audit(page, axe)

        go(page, "Progress")
        wait_text(page, "Latest free-text answers")
        expect(page.get_by_text(XSS, exact=True).first).to_be_visible()
        assert page.locator("img[src='x']").count() == 0, "participant text was interpreted as HTML"
        shot(page, artifacts, "11_progress")
        findings["11_progress"] = audit(page, axe)

        go(page, "Gallery")
        wait_text(page, "images ×")
        assert page.get_by_text("not cached").count() == 0
        shot(page, artifacts, "12_gallery")
        findings["12_gallery"] = audit(page, axe)

        go(page, "Analysis")
        wait_text(page, "Accuracy by method")
        wait_text(page, "Method ranking")
        assert page.locator("[data-testid='stImage'] img, [data-testid='stPyplot'] img").count() >= 2
        shot(page, artifacts, "13_analysis")
        findings["13_analysis"] = audit(page, axe)

        go(page, "Preview")
        wait_text(page, "Preview")
        wait_settled(page)
        findings["13b_preview"] = audit(page, axe)

        go(page, "Data")
        page.get_by_role("button", name="Prepare the CSV export").click()
        wait_text(page, "Download responses.csv")
        with page.expect_download() as download:
            page.get_by_role("button", name="Download responses.csv").click()
        csv_text = open(download.value.path(), encoding="utf-8").read()
        assert csv_text.startswith("study_id,") and XSS in csv_text
        shot(page, artifacts, "14_data")
        findings["14_data"] = audit(page, axe)
        wait_settled(page)
        assert not dialogs, f"a script ran: {dialogs}"
    finally:
        context.close()
    for where, violations in findings.items():
        for line in describe(where, [v for v in violations if v not in serious(violations)]):
            print("axe (not blocking):", line)
    blocking = [line for where, violations in findings.items() for line in describe(where, serious(violations))]
    assert not blocking, "\n".join(blocking)
