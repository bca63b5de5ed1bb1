"""The bundled demo counts as having a researcher password however it is named: the one-time password
mode (made at the first page visit, printed to the server log) is its password, and ``check`` says so."""

from __future__ import annotations

from study_app.readiness import check_password
from study_app.settings import DEMO_STUDY, EXAMPLE_STUDIES, AppSettings


def test_the_demo_named_on_the_command_line_is_still_the_demo():
    for source in ("command line", "environment", "secrets", "demo"):
        settings = AppSettings(study_file=DEMO_STUDY, source=source, researcher_password=None)
        assert settings.is_bundled_demo, source
        verdict = check_password(settings)
        assert verdict.ok and "one-time password" in verdict.detail and "first page" in verdict.detail


def test_any_other_study_without_a_password_fails_the_check():
    settings = AppSettings(study_file=EXAMPLE_STUDIES / "offline" / "rate.toml", source="command line",
                           researcher_password=None)
    assert not settings.is_bundled_demo
    verdict = check_password(settings)
    assert not verdict.ok and verdict.blocking


def test_a_configured_password_wins_over_the_demo_mode():
    settings = AppSettings(study_file=DEMO_STUDY, source="command line", researcher_password="a long password!")
    assert check_password(settings).detail == "set"
