"""The researcher area's lock: a password compared in constant time, locked when none is configured.

Failed attempts are throttled for the whole deployment by :mod:`study_app.store.login_throttle` (in the
database, so reloads, other server processes and restarts all see the same count), per client address
(:func:`client_address`) under a global ceiling; this module only draws the form and the waiting time.
Every attempt lands in the researcher audit log; ``xai-study researcher unlock`` clears a lock.

The one exception is the bundled demo: with no password configured it makes a random one-time password
when the server handles its first page, and writes it to the server log only (never to a page), so that
whoever started the server can look around and nobody who merely has the URL can.
"""

from __future__ import annotations

import datetime as dt
import hmac
import logging
import secrets

import streamlit as st

from study_app.settings import ENV_PASSWORD, SECRET_PASSWORD, Settings, password_problem
from study_app.store import Repository, make_engine
from study_app.store.login_throttle import LoginThrottle, MemoryLoginThrottle, format_wait, locked_message
from study_app.ui import state_keys
from study_app.ui.resources import StudyUnavailable, app_settings

log = logging.getLogger("study_app.researcher")


def login_clock() -> dt.datetime:
    """The throttle's clock, looked up on every call so tests can move time instead of sleeping."""
    return dt.datetime.now(dt.UTC)


@st.cache_resource(show_spinner=False, max_entries=4)
def _login_throttle(db_url: str):
    """One per process and database. Falls back to a per-process count when the database cannot be used
    (down, or at another schema revision), so the researcher can still reach the readiness page."""
    try:
        return LoginThrottle(Repository(make_engine(db_url)), clock=lambda: login_clock())
    except Exception as exc:  # noqa: BLE001 - any database failure: throttle in memory, say so in the log
        log.warning("researcher login throttle: database unusable (%s); failed logins are counted in this "
                    "process only and not audited", exc)
        return MemoryLoginThrottle(clock=lambda: login_clock())


def login_throttle(settings: Settings):
    return _login_throttle(settings.db_url)


def client_address() -> str:
    """The address a login attempt came from. A direct connection's own address; through a proxy on this
    machine (``xai-study serve``'s HAProxy; Streamlit reports no address for loopback) the last
    ``X-Forwarded-For`` entry, the one that proxy appended (earlier ones are the client's to invent)."""
    direct = getattr(st.context, "ip_address", None)
    if isinstance(direct, str) and direct:  # (AppTest hands out a mock: not an address)
        return direct
    forwarded = (st.context.headers or {}).get("X-Forwarded-For") or ""
    last = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
    return last or "localhost"


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


def effective_password(settings: Settings) -> str | None:
    """The password that opens the area, or ``None`` when it must stay locked: none configured (outside the
    demo), or one that ``xai-study check`` refuses (:func:`study_app.settings.password_problem`)."""
    if settings.researcher_password:
        return None if password_problem(settings.researcher_password) else settings.researcher_password
    if settings.is_bundled_demo:
        return _demo_one_time_password()
    return None


def announce_demo_password() -> None:
    """Make (and log) the demo's one-time password on the server's first page load, so it is in the log
    before anyone opens the researcher area. Streamlit runs no app code before the first page load."""
    try:
        effective_password(app_settings())
    except StudyUnavailable:  # settings that cannot be decided: the page says why
        pass


def researcher_unlocked(settings: Settings) -> bool:
    """Draws the password form unless already unlocked this session; returns whether to show the area."""
    expected = effective_password(settings)
    if expected is None:
        st.session_state.pop(state_keys.RESEARCHER_OK, None)
        problem = password_problem(settings.researcher_password)
        if problem:
            st.warning(f"The researcher area is locked: the configured password is not set properly ({problem}). "
                       f"Set another in `{SECRET_PASSWORD}` or `{ENV_PASSWORD}`, then restart the server.")
            return False
        st.warning(
            "The researcher area is locked: no password is configured. Set "
            f"`{SECRET_PASSWORD}` in `.streamlit/secrets.toml` or the environment variable `{ENV_PASSWORD}`, "
            "then restart the server."
        )
        return False
    if st.session_state.get(state_keys.RESEARCHER_OK):
        return True
    throttle = login_throttle(settings)
    notice = st.empty()  # one message above the form: the attempt's outcome, else the current wait
    if not throttle.persistent:
        st.caption("The database cannot be used, so failed logins are counted by this server process only.")
    if settings.researcher_password is None:
        st.info("Demo study: the one-time researcher password is printed in the server log.")
    with st.form("researcher_login", enter_to_submit=True):
        given = st.text_input("Researcher password", type="password", key="researcher_password_input")
        submitted = st.form_submit_button("Unlock")
    client = client_address()
    if not submitted:
        wait = throttle.wait(client)
        if wait > dt.timedelta(0):
            notice.error(f"{locked_message(throttle.locked_for_everyone())} Try again in {format_wait(wait)}.")
        return False
    result = throttle.attempt(passwords_match(given or "", expected), actor="web", client=client)
    if result.ok:
        st.session_state[state_keys.RESEARCHER_OK] = True
        log.info("researcher area unlocked")
        st.rerun()
    log.warning("researcher area: login refused (%s, %d consecutive failures)", result.outcome, result.failures)
    notice.error(result.message())
    return False


def lock_researcher_area() -> None:
    st.session_state.pop(state_keys.RESEARCHER_OK, None)
