"""Accessibility audit (axe-core, WCAG 2.2 A and AA) of every participant page of every protocol, in English.

Each offline example (one per protocol, and the one with validated questionnaires) is served and walked by
the simulator's generic participant (:func:`study_app.simulate.browser_walk.walk_one`), and axe audits every
page before it is answered: consent, questionnaires, instructions, every trial phase, the end. No violation of
impact serious or critical may remain; the others are printed. The German pages are audited along the German
walk (``test_german_walk_browser.py``), the researcher pages along the researcher walk
(``test_researcher_browser.py``).
"""

from __future__ import annotations

import random

import pytest

from e2e.axe import audit, axe_source, describe, serious
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import E2E_PASSWORD

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OFFLINE = PROJECT_ROOT / "examples" / "studies" / "offline"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "accessibility"
EXAMPLES = ["rate", "forward_simulation", "verification", "distinction", "decision", "instruments"]


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_participant_page_passes_axe(example, chromium, axe, tmp_path, monkeypatch, capsys):
    from study_app.simulate.browser_walk import walk_one  # noqa: PLC0415

    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_RESEARCHER_PASSWORD", "XAI_STUDY_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    env = {"XAI_STUDY_FILE": str(OFFLINE / f"{example}.toml"), "XAI_STUDY_RESEARCHER_PASSWORD": E2E_PASSWORD,
           "XAI_STUDY_DB_URL": f"sqlite:///{tmp_path / 'responses.sqlite'}"}
    found: list[tuple[str, list[dict]]] = []

    def check(page) -> None:
        heading = page.evaluate("() => (document.querySelector('h1, h2, h3') || document.body).innerText")
        found.append((f"page {len(found) + 1} ({heading.strip()[:40]!r})", audit(page, axe)))

    with StreamlitServer(env, ARTIFACTS / example / "server.log") as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 900})
        try:
            walk = walk_one(context.new_page(), server.url, random.Random(7), on_page=check)
        finally:
            context.close()
    assert walk.ended == "no more buttons", walk.stuck
    assert len(found) >= 5, "consent, instructions, trials and the end were audited"
    with capsys.disabled():
        for where, violations in found:
            for line in describe(where, [v for v in violations if v not in serious(violations)]):
                print("axe (not blocking):", line)
    blocking = [line for where, violations in found for line in describe(where, serious(violations))]
    assert not blocking, "\n".join(blocking)
