"""The login form applies ``xai-study check``'s password rule (settings.password_problem): a documentation
example or a short password keeps the researcher area locked, with the reason, and offers no form."""

from __future__ import annotations

import pytest

from app.conftest import PASSWORD_ENV
from app.drive import new_app, texts


@pytest.mark.parametrize(("password", "reason"), [("pick a long password", "example"), ("abc", "example"),
                                                  ("eleven-char", "at least 12")])
def test_a_password_check_refuses_keeps_the_area_locked_with_the_reason(setup_study, monkeypatch, password, reason):
    setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, password)
    at = new_app().run()
    at = at.switch_page("app_pages/researcher_login.py").run()
    assert not at.exception
    shown = texts(at)
    assert "locked" in shown and "not set properly" in shown and reason in shown
    assert not at.text_input, "no form: the configured password must not open the area"
