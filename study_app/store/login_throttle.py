"""Researcher login throttling, shared by every server process through the database.

A lockout kept in the browser session is undone by a reload; one kept in a process by a second process or a
restart. So the count of consecutive failed logins lives in one database row (``login_throttle``), read and
written under a row lock (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write lock from ``BEGIN
IMMEDIATE``), and each attempt is written to the researcher audit log in the same transaction.

Policy (:class:`ThrottlePolicy`): the first few failures cost nothing (typos), then each failure doubles the
wait before the next attempt is even looked at, and from ``lockout_after`` failures on every failure locks the
area for the whole lockout window. During a wait every attempt is refused without comparing the password
(so no guess is ever tested), and refusals do not extend the wait (so an attacker cannot keep the researcher
out for longer than one window after they stop). A success resets the count; so do 24 quiet hours.

When the database cannot be used (it is down, or at another schema revision: exactly when the researcher
needs the readiness page), :class:`MemoryLoginThrottle` applies the same policy per process.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from study_app.store.schema import LoginThrottleRow, ResearcherLogRow

RESEARCHER_SCOPE = "researcher"
OK, WRONG, LOCKED = "ok", "wrong_password", "locked"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class ThrottlePolicy:
    free_failures: int = 3
    first_delay: dt.timedelta = dt.timedelta(seconds=2)
    lockout_after: int = 10
    lockout: dt.timedelta = dt.timedelta(minutes=15)
    forget_after: dt.timedelta = dt.timedelta(hours=24)

    def wait_after(self, failures: int) -> dt.timedelta:
        """How long attempts are refused after the ``failures``-th consecutive failure."""
        if failures <= self.free_failures:
            return dt.timedelta(0)
        if failures >= self.lockout_after:
            return self.lockout
        return min(self.first_delay * 2 ** (failures - self.free_failures - 1), self.lockout)


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    last_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class LoginResult:
    outcome: str  # ok | wrong_password | locked
    failures: int  # consecutive failures so far
    wait: dt.timedelta  # until the next attempt is looked at (zero: now)

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    def message(self) -> str:
        """What the login form says; the waiting time is always in it when there is one."""
        if self.ok:
            return "Unlocked."
        wait = f"Try again in {format_wait(self.wait)}." if self.wait > dt.timedelta(0) else ""
        if self.outcome == LOCKED:
            return f"Too many wrong passwords: the researcher area is locked for everyone. {wait}".strip()
        return f"Wrong password. {wait}".strip()


def format_wait(wait: dt.timedelta) -> str:
    seconds = max(1, int(-(-wait.total_seconds() // 1)))  # round up: "0 s" would invite a refused try
    minutes, seconds = divmod(seconds, 60)
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


def decide(state: ThrottleState, password_ok: bool, now: dt.datetime,
           policy: ThrottlePolicy) -> tuple[ThrottleState, LoginResult]:
    """The whole policy as a pure function: the state after an attempt, and its result."""
    if state.locked_until is not None and now < state.locked_until:
        return state, LoginResult(LOCKED, state.failures, state.locked_until - now)
    failures = state.failures
    if state.last_failure_at is not None and now - state.last_failure_at >= policy.forget_after:
        failures = 0
    if password_ok:
        return ThrottleState(), LoginResult(OK, 0, dt.timedelta(0))
    failures += 1
    wait = policy.wait_after(failures)
    new = ThrottleState(failures, now, now + wait if wait > dt.timedelta(0) else None)
    return new, LoginResult(WRONG, failures, wait)


def _audit_row(result: LoginResult, now: dt.datetime, actor: str, study_slug: str | None) -> ResearcherLogRow:
    detail = {"failures": result.failures, "wait_s": round(result.wait.total_seconds(), 3)}
    return ResearcherLogRow(at=now, action="login", outcome=result.outcome, actor=actor[:64],
                            study_slug=study_slug, detail_json=json.dumps(detail, sort_keys=True))


class LoginThrottle:
    """The database-backed throttle; one per process is enough (it keeps no state itself).

    Args:
        repository: A :class:`~study_app.store.repository.Repository` (its write sessions are used).
        clock: Current time, timezone-aware; tests pass a fake one instead of sleeping.
    """

    persistent = True

    def __init__(self, repository, *, policy: ThrottlePolicy | None = None,
                 clock: Callable[[], dt.datetime] = utc_now, scope: str = RESEARCHER_SCOPE):
        self._sessions = repository._sessions
        self._reads = repository._reads
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self.scope = scope

    def wait(self) -> dt.timedelta:
        """How long until an attempt will be looked at (zero: now); a read only."""
        now = self.clock()
        with self._reads.begin() as session:
            until = session.scalar(select(LoginThrottleRow.locked_until)
                                   .where(LoginThrottleRow.scope == self.scope))
        return until - now if until is not None and now < until else dt.timedelta(0)

    def attempt(self, password_ok: bool, *, actor: str = "web", study_slug: str | None = None) -> LoginResult:
        """Count one login attempt (``password_ok`` is ignored while locked) and log it; one transaction."""
        self._ensure_row()
        with self._sessions.begin() as session:
            row = session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.scope == self.scope)
                                  .with_for_update()).one()
            now = self.clock()
            state = ThrottleState(row.failures, row.last_failure_at, row.locked_until)
            new, result = decide(state, password_ok, now, self.policy)
            if new != state:
                row.failures, row.last_failure_at, row.locked_until = (new.failures, new.last_failure_at,
                                                                       new.locked_until)
            session.add(_audit_row(result, now, actor, study_slug))
        return result

    def _ensure_row(self) -> None:
        with self._reads.begin() as session:
            if session.get(LoginThrottleRow, self.scope) is not None:
                return
        try:
            with self._sessions.begin() as session:
                session.add(LoginThrottleRow(scope=self.scope, failures=0, last_failure_at=None,
                                             locked_until=None))
        except IntegrityError:
            pass  # another process created it first


class MemoryLoginThrottle:
    """The same policy for one process, when the database cannot be used; logins are not audited then."""

    persistent = False

    def __init__(self, *, policy: ThrottlePolicy | None = None, clock: Callable[[], dt.datetime] = utc_now):
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._state = ThrottleState()
        self._lock = threading.Lock()

    def wait(self) -> dt.timedelta:
        now = self.clock()
        until = self._state.locked_until
        return until - now if until is not None and now < until else dt.timedelta(0)

    def attempt(self, password_ok: bool, *, actor: str = "web", study_slug: str | None = None) -> LoginResult:
        with self._lock:
            self._state, result = decide(self._state, password_ok, self.clock(), self.policy)
            return replace(result)
