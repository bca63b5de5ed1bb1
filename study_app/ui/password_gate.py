"""The researcher area's lock: a password compared in constant time, locked when none is configured.

The one exception is the bundled demo: with no password configured it makes a random one-time password
when the server handles its first page, and writes it to the server log only (never to a page), so that
whoever started the server can look around and nobody who merely has the URL can.
"""

from __future__ import annotations

import hmac
import logging
import secrets

import streamlit as st

from study_app.ui import state_keys
from study_app.ui.settings import ENV_PASSWORD, SECRET_PASSWORD, AppSettings

log = logging.getLogger("study_app.researcher")

MAX_FAILED_ATTEMPTS = 5


def passwords_match(given: str, expected: str) -> bool:
    """Constant-time comparison of UTF-8 bytes (``compare_digest`` refuses non-ASCII ``str``)."""
    return hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))


@st.cache_resource(show_spinner=False)
def _demo_one_time_password() -> str:
    """Made once per server process; printed to the log, the only place it appears."""
    password = secrets.token_urlsafe(12)
    message = f"Bundled demo: researcher one-time password for this server run: {password}"
    log.warning(message)
    print(message, flush=True)  # noqa: T201 - the server log is the intended channel
    return password


def effective_password(settings: AppSettings) -> str | None:
    """The password that opens the area, or ``None`` when it must stay locked."""
    if settings.researcher_password:
        return settings.researcher_password
    if settings.is_bundled_demo:
        return _demo_one_time_password()
    return None


def announce_demo_password() -> None:
    """Make (and log) the demo's one-time password on the server's first page load, so it is in the log
    before anyone opens the researcher area. Streamlit runs no app code before the first page load."""
    from study_app.ui.resources import app_settings  # noqa: PLC0415 - avoid an import cycle

    effective_password(app_settings())


def researcher_unlocked(settings: AppSettings) -> bool:
    """Draws the password form unless already unlocked this session; returns whether to show the area."""
    expected = effective_password(settings)
    if expected is None:
        st.session_state.pop(state_keys.RESEARCHER_OK, None)
        st.warning(
            "The researcher area is locked: no password is configured. Set "
            f"`{SECRET_PASSWORD}` in `.streamlit/secrets.toml` or the environment variable `{ENV_PASSWORD}`, "
            "then restart the server."
        )
        return False
    if st.session_state.get(state_keys.RESEARCHER_OK):
        return True
    failures = int(st.session_state.get(state_keys.RESEARCHER_FAILURES, 0))
    if failures >= MAX_FAILED_ATTEMPTS:
        st.error("Too many wrong passwords in this session. Reload the page to try again.")
        return False
    if settings.researcher_password is None:
        st.info("Demo study: the one-time researcher password is printed in the server log.")
    with st.form("researcher_login", enter_to_submit=True):
        given = st.text_input("Researcher password", type="password", key="researcher_password_input")
        submitted = st.form_submit_button("Unlock")
    if not submitted:
        return False
    if passwords_match(given or "", expected):
        st.session_state[state_keys.RESEARCHER_OK] = True
        st.session_state[state_keys.RESEARCHER_FAILURES] = 0
        log.info("researcher area unlocked")
        st.rerun()
    st.session_state[state_keys.RESEARCHER_FAILURES] = failures + 1
    log.warning("researcher area: wrong password (%d in this session)", failures + 1)
    st.error("Wrong password.")
    return False


def lock_researcher_area() -> None:
    st.session_state.pop(state_keys.RESEARCHER_OK, None)
