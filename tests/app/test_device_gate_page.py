"""The consent page of a study with a minimum window width, in AppTest (where no browser reports a width).

Until the page knows the width it offers no consent, only "checking your browser window"; the rehearsal
found consent buttons drawn before the width was known, which let two 360 px phones in.
"""

from __future__ import annotations

from app.conftest import db_counts
from app.drive import new_app, texts


def gated(setup_study, gate: str = "min_viewport_width = 900"):
    setup = setup_study("verification")
    text = setup.study_file.read_text()
    setup.study_file.write_text(text.replace("[study]\n", f"[study]\n{gate}\n", 1))
    return setup


def test_no_consent_is_offered_before_the_width_is_known(setup_study):
    setup = gated(setup_study)
    at = new_app().run()
    assert not at.exception
    assert "Checking your browser window" in texts(at)
    assert "at least 900 pixels wide" in texts(at)
    assert [b.label for b in at.button if b.label.startswith("I ")] == []
    assert db_counts(setup)["participants"] == 0


def test_a_phone_only_gate_offers_consent_at_once(setup_study):
    """No width is needed, so nothing waits for the browser (AppTest sends no phone User-Agent)."""
    gated(setup_study, "allow_phones = false")
    at = new_app().run()
    assert "Checking your browser window" not in texts(at)
    assert any(b.label.startswith("I agree") for b in at.button)
