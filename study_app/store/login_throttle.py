"""Researcher login throttling, shared by every server process through the database.

A lockout kept in the browser session is undone by a reload; one kept in a process by a second process or a
restart. So the counts of failed logins live in database rows (``login_throttle``), read and written under
row locks (PostgreSQL ``SELECT ... FOR UPDATE``; SQLite's write lock from ``BEGIN IMMEDIATE``), and each
attempt is written to the researcher audit log in the same transaction.

Policy (:class:`ThrottlePolicy`), in two tiers so that a stranger cannot keep the researcher out:

* **Per client** (the address the request came from, :func:`client_scope`): the first few failures cost
  nothing (typos), then each failure doubles the wait before that client's next attempt is even looked at,
  and from ``lockout_after`` failures on every failure locks that client out for the lockout window. Only
  that client: one stranger's slow guesses lock out the stranger, not the researcher.
* **A global ceiling**: ``global_ceiling`` failures from all clients together within ``global_window``
  (counted in the audit log) lock the area for everyone for the lockout window, so many clients cannot
  share out a guessing campaign. One client alone cannot reach it (:meth:`ThrottlePolicy.client_max_in_window`).

During a wait every attempt is refused without comparing the password (so no guess is ever tested), and
refusals do not extend the wait. A success resets that client's count; so do 24 quiet hours.
``xai-study researcher unlock`` clears every count and lock (:meth:`LoginThrottle.unlock`, audited).

When the database cannot be used (it is down, or at another schema revision: exactly when the researcher
needs the readiness page), :class:`MemoryLoginThrottle` applies the same policy per process.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from sqlalchemy import func, or_, select
from sqlalchemy.exc import IntegrityError

from study_app.store.schema import LoginThrottleRow, ResearcherLogRow

RESEARCHER_SCOPE = "researcher"  # the global row; clients' rows are "researcher:<client>"
UNKNOWN_CLIENT = "unknown"
UNLOCK_ACTION = "researcher_unlock"
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
    global_ceiling: int = 30  # failures from all clients within global_window that lock everyone out
    global_window: dt.timedelta = dt.timedelta(hours=1)

    def wait_after(self, failures: int) -> dt.timedelta:
        """How long attempts are refused after the ``failures``-th consecutive failure."""
        if failures <= self.free_failures:
            return dt.timedelta(0)
        if failures >= self.lockout_after:
            return self.lockout
        return min(self.first_delay * 2 ** (failures - self.free_failures - 1), self.lockout)

    def client_max_in_window(self) -> int:
        """The most failures one client can make within any ``global_window`` (trying the moment each wait
        ends); below ``global_ceiling``, so one client alone never locks the area for everyone."""
        start = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
        state, now, times = ThrottleState(), start, []
        while now < start + self.forget_after:
            state, result = decide(state, False, now, self)
            times.append(now)
            now += max(result.wait, dt.timedelta(seconds=1))
        return max(sum(1 for t in times[i:] if t < first + self.global_window) for i, first in enumerate(times))


@dataclass(frozen=True)
class ThrottleState:
    failures: int = 0
    last_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class LoginResult:
    outcome: str  # ok | wrong_password | locked
    failures: int  # this client's consecutive failures so far
    wait: dt.timedelta  # until the next attempt is looked at (zero: now)
    everyone: bool = False  # the wait holds for every client (the global ceiling), not only this one

    @property
    def ok(self) -> bool:
        return self.outcome == OK

    def message(self) -> str:
        """What the login form says; the waiting time is always in it when there is one."""
        if self.ok:
            return "Unlocked."
        wait = f"Try again in {format_wait(self.wait)}." if self.wait > dt.timedelta(0) else ""
        if self.outcome == LOCKED or self.everyone:
            return f"{locked_message(self.everyone)} {wait}".strip()
        return f"Wrong password. {wait}".strip()


def locked_message(everyone: bool) -> str:
    if everyone:
        return ("Too many wrong passwords from several places: the researcher area is locked for everyone "
                "(xai-study researcher unlock opens it).")
    return "Too many wrong passwords from this connection: the researcher area is locked here."


def client_scope(client: str | None) -> str:
    """The throttle row of one client (an address; long ones hashed to fit the 64-character key)."""
    client = (client or UNKNOWN_CLIENT).strip() or UNKNOWN_CLIENT
    if len(client) > 45:
        client = "sha256:" + hashlib.sha256(client.encode("utf-8")).hexdigest()[:32]
    return f"{RESEARCHER_SCOPE}:{client}"


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


def _audit_row(result: LoginResult, now: dt.datetime, actor: str, study_slug: str | None,
               client: str) -> ResearcherLogRow:
    detail = {"failures": result.failures, "wait_s": round(result.wait.total_seconds(), 3), "client": client,
              "everyone": result.everyone}
    return ResearcherLogRow(at=now, action="login", outcome=result.outcome, actor=actor[:64],
                            study_slug=study_slug, detail_json=json.dumps(detail, sort_keys=True))


def _wait_until(until: dt.datetime | None, now: dt.datetime) -> dt.timedelta:
    return until - now if until is not None and now < until else dt.timedelta(0)


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

    def wait(self, client: str | None = None) -> dt.timedelta:
        """How long until ``client``'s attempt will be looked at (zero: now); a read only."""
        now = self.clock()
        scopes = [self.scope, client_scope(client)]
        with self._reads.begin() as session:
            until = session.scalars(select(LoginThrottleRow.locked_until)
                                    .where(LoginThrottleRow.scope.in_(scopes))).all()
        return max((_wait_until(u, now) for u in until), default=dt.timedelta(0))

    def locked_for_everyone(self) -> bool:
        with self._reads.begin() as session:
            until = session.scalar(select(LoginThrottleRow.locked_until).where(LoginThrottleRow.scope == self.scope))
        return _wait_until(until, self.clock()) > dt.timedelta(0)

    def attempt(self, password_ok: bool, *, actor: str = "web", study_slug: str | None = None,
                client: str | None = None) -> LoginResult:
        """Count one login attempt from ``client`` (``password_ok`` is ignored while locked) and log it; one
        transaction."""
        mine = client_scope(client)
        self._ensure_row(self.scope)
        self._ensure_row(mine)
        with self._sessions.begin() as session:
            everyone = session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.scope == self.scope)
                                       .with_for_update()).one()  # the global row first, always: no deadlock
            row = session.scalars(select(LoginThrottleRow).where(LoginThrottleRow.scope == mine)
                                  .with_for_update()).one()
            now = self.clock()
            if everyone.locked_until is not None and now < everyone.locked_until:
                result = LoginResult(LOCKED, row.failures, everyone.locked_until - now, everyone=True)
            else:
                state = ThrottleState(row.failures, row.last_failure_at, row.locked_until)
                new, result = decide(state, password_ok, now, self.policy)
                if new != state:
                    row.failures, row.last_failure_at, row.locked_until = (new.failures, new.last_failure_at,
                                                                           new.locked_until)
                if result.outcome == WRONG and self._recent_failures(session, now) + 1 >= self.policy.global_ceiling:
                    everyone.locked_until = now + self.policy.lockout
                    result = replace(result, wait=max(result.wait, self.policy.lockout), everyone=True)
            session.add(_audit_row(result, now, actor, study_slug, mine.split(":", 1)[1]))
        return result

    def _recent_failures(self, session, now: dt.datetime) -> int:
        """Failed logins from every client within the global window, since the last unlock."""
        since = now - self.policy.global_window
        unlocked = session.scalar(select(func.max(ResearcherLogRow.at))
                                  .where(ResearcherLogRow.action == UNLOCK_ACTION))
        if unlocked is not None and unlocked > since:
            since = unlocked
        return session.scalar(select(func.count()).select_from(ResearcherLogRow).where(
            ResearcherLogRow.action == "login", ResearcherLogRow.outcome == WRONG, ResearcherLogRow.at >= since))

    def unlock(self, *, actor: str) -> int:
        """Clear every count and lock (the global one and every client's), audited; returns how many locks
        were in force."""
        now = self.clock()
        with self._sessions.begin() as session:
            rows = session.scalars(select(LoginThrottleRow).where(or_(
                LoginThrottleRow.scope == self.scope, LoginThrottleRow.scope.like(f"{self.scope}:%")))
                .with_for_update()).all()
            locked = sum(1 for r in rows if r.locked_until is not None and now < r.locked_until)
            for r in rows:
                r.failures, r.last_failure_at, r.locked_until = 0, None, None
            session.add(ResearcherLogRow(at=now, action=UNLOCK_ACTION, outcome=OK, actor=actor[:64],
                                         study_slug=None, detail_json=json.dumps({"locks_cleared": locked,
                                                                                  "rows": len(rows)})))
        return locked

    def _ensure_row(self, scope: str) -> None:
        with self._reads.begin() as session:
            if session.get(LoginThrottleRow, scope) is not None:
                return
        try:
            with self._sessions.begin() as session:
                session.add(LoginThrottleRow(scope=scope, failures=0, last_failure_at=None, locked_until=None))
        except IntegrityError:
            pass  # another process created it first


class MemoryLoginThrottle:
    """The same policy for one process, when the database cannot be used; logins are not audited then."""

    persistent = False

    def __init__(self, *, policy: ThrottlePolicy | None = None, clock: Callable[[], dt.datetime] = utc_now):
        self.policy = policy or ThrottlePolicy()
        self.clock = clock
        self._states: dict[str, ThrottleState] = {}
        self._failures: list[dt.datetime] = []
        self._everyone_until: dt.datetime | None = None
        self._lock = threading.Lock()

    def wait(self, client: str | None = None) -> dt.timedelta:
        now = self.clock()
        state = self._states.get(client_scope(client), ThrottleState())
        return max(_wait_until(state.locked_until, now), _wait_until(self._everyone_until, now))

    def locked_for_everyone(self) -> bool:
        return _wait_until(self._everyone_until, self.clock()) > dt.timedelta(0)

    def attempt(self, password_ok: bool, *, actor: str = "web", study_slug: str | None = None,
                client: str | None = None) -> LoginResult:
        with self._lock:
            now, mine = self.clock(), client_scope(client)
            state = self._states.get(mine, ThrottleState())
            if self._everyone_until is not None and now < self._everyone_until:
                return LoginResult(LOCKED, state.failures, self._everyone_until - now, everyone=True)
            self._states[mine], result = decide(state, password_ok, now, self.policy)
            if result.outcome == WRONG:
                self._failures = [t for t in self._failures if t > now - self.policy.global_window] + [now]
                if len(self._failures) >= self.policy.global_ceiling:
                    self._everyone_until = now + self.policy.lockout
                    result = replace(result, wait=max(result.wait, self.policy.lockout), everyone=True)
            return result
