"""The bundled demo counts as having a researcher password however it is named: the one-time password
mode (made at the first page visit, printed to the server log) is its password, and ``check`` says so."""

from __future__ import annotations

from study_app.readiness import check_password
from study_app.settings import BUNDLED_DEMO, BUNDLED_EXAMPLE, DEMO_STUDY, EXAMPLE_STUDIES, Settings, resolve


def test_the_demo_named_on_the_command_line_is_still_the_demo():
    named = [resolve(study=DEMO_STUDY, env={}, secrets={}),
             resolve(env={"XAI_STUDY_FILE": str(DEMO_STUDY)}, secrets={}),
             resolve(env={}, secrets={"study_file": str(DEMO_STUDY)})]
    assert [s.source for s in named] == ["command line", "environment XAI_STUDY_FILE", "secrets.toml"]
    for settings in [*named, Settings.given(DEMO_STUDY)]:
        assert settings.is_bundled_demo, settings.source
        assert settings.researcher_password is None
        verdict = check_password(settings)
        assert verdict.ok and "one-time password" in verdict.detail and "first page" in verdict.detail
    assert all("one-time password in the server log" in s.password.shown for s in named)  # the settings table


def test_with_nothing_configured_the_bundled_demo_runs():
    settings = resolve(env={}, secrets={})
    assert settings.source in (BUNDLED_DEMO, BUNDLED_EXAMPLE) and settings.is_bundled_demo


def test_any_other_study_without_a_password_fails_the_check():
    settings = Settings.given(EXAMPLE_STUDIES / "offline" / "rate.toml")
    assert not settings.is_bundled_demo
    verdict = check_password(settings)
    assert not verdict.ok and verdict.blocking


def test_a_configured_password_wins_over_the_demo_mode():
    settings = Settings.given(DEMO_STUDY, "a long password!")
    assert check_password(settings).detail == "set"
