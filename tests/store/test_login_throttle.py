"""Researcher login throttling in the database: shared by sessions, processes and restarts; audited.

Time is a fake clock moved by hand: no test sleeps through a backoff.
"""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from study.kit import FakeClock

from study_app.cli import main as cli_main
from study_app.store import Repository, make_engine
from study_app.store.login_throttle import (
    LOCKED,
    OK,
    WRONG,
    LoginThrottle,
    MemoryLoginThrottle,
    ThrottlePolicy,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def fresh(repo, clock) -> LoginThrottle:
    """A throttle as a new server process would make it: its own connection pool, no memory of its own."""
    return LoginThrottle(Repository(make_engine(repo.engine.url.render_as_string(hide_password=False))),
                         clock=clock)


def test_the_policy_backs_off_exponentially_then_locks_out():
    policy = ThrottlePolicy()
    waits = [policy.wait_after(n).total_seconds() for n in range(1, 13)]
    assert waits == [0, 0, 0, 2, 4, 8, 16, 32, 64, 900, 900, 900]


def test_twenty_wrong_passwords_from_fresh_sessions_are_throttled(repo):
    clock = FakeClock()
    results = [fresh(repo, clock).attempt(False) for _ in range(20)]
    assert [r.outcome for r in results] == [WRONG] * 4 + [LOCKED] * 16  # a guess looked at only 4 times
    assert all("Try again in 2 s" in r.message() for r in results[3:])
    log = repo.audit_log()
    assert len(log) == 20 and {e.action for e in log} == {"login"}
    assert [e.outcome for e in reversed(log)] == [r.outcome for r in results]


def test_right_password_during_lockout_is_refused_until_the_window_ends(repo):
    clock = FakeClock()
    throttle = LoginThrottle(repo, clock=clock)
    for _ in range(9):  # wait out every backoff: failures that each count
        assert throttle.attempt(False).outcome == WRONG
        clock.advance(seconds=throttle.wait().total_seconds())
    assert throttle.attempt(False).outcome == WRONG  # the tenth
    assert throttle.wait() == dt.timedelta(minutes=15)  # the lockout window
    clock.advance(minutes=1)
    refused = fresh(repo, clock).attempt(True)
    assert refused.outcome == LOCKED and "Try again in 14 min 0 s" in refused.message()
    clock.advance(minutes=13, seconds=59)
    assert fresh(repo, clock).attempt(True).outcome == LOCKED  # refusals do not extend the window
    clock.advance(seconds=1)
    opened = fresh(repo, clock).attempt(True)
    assert opened.outcome == OK and opened.failures == 0
    assert fresh(repo, clock).attempt(False).outcome == WRONG and throttle.wait() == dt.timedelta(0)
    outcomes = [e.outcome for e in reversed(repo.audit_log())]
    assert outcomes[-4:] == [LOCKED, LOCKED, OK, WRONG]


def test_a_quiet_day_forgets_old_failures(sqlite_repo):
    clock = FakeClock()
    throttle = LoginThrottle(sqlite_repo, clock=clock)
    for _ in range(3):
        throttle.attempt(False)
    clock.advance(hours=24)
    assert throttle.attempt(False).failures == 1


ATTACKER = """
import sys
from study_app.store import Repository, make_engine
from study_app.store.login_throttle import LoginThrottle
throttle = LoginThrottle(Repository(make_engine(sys.argv[1])))
print([throttle.attempt(False).outcome for _ in range(int(sys.argv[2]))])
"""


def test_another_process_and_a_restart_see_the_same_count(repo):
    """Wrong passwords from a separate process (real clock) lock out this one, and a new process too."""
    url = repo.engine.url.render_as_string(hide_password=False)

    def attacker(n):
        done = subprocess.run([sys.executable, "-c", ATTACKER, url, str(n)], cwd=REPO_ROOT, capture_output=True,
                              text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert attacker(4).count("wrong_password") == 4
    throttle = LoginThrottle(repo)  # real clock: the 2 s backoff from the 4th failure may still run
    for _ in range(6):  # to the lockout, waiting out each backoff on a fake clock advanced past it
        clock = FakeClock(dt.datetime.now(dt.UTC) + dt.timedelta(minutes=5))
        LoginThrottle(repo, clock=clock).attempt(False)
    assert "locked" in attacker(1)  # a restarted process is still locked out (real clock, 15 min window)
    assert throttle.attempt(True).outcome == LOCKED


def test_memory_fallback_applies_the_same_policy():
    clock = FakeClock()
    throttle = MemoryLoginThrottle(clock=clock)
    assert [throttle.attempt(False).outcome for _ in range(6)] == [WRONG] * 4 + [LOCKED] * 2
    clock.advance(seconds=2)
    assert throttle.attempt(True).outcome == OK


@pytest.mark.parametrize("seconds,text", [(0.2, "1 s"), (59.5, "1 min 0 s"), (899.1, "15 min 0 s")])
def test_waits_are_rounded_up(seconds, text):
    from study_app.store.login_throttle import format_wait

    assert format_wait(dt.timedelta(seconds=seconds)) == text


STRANGER, RESEARCHER = "203.0.113.9", "198.51.100.7"


@pytest.mark.parametrize("kind", ["database", "memory"])
def test_one_strangers_guesses_never_lock_the_researcher_out(repo, kind):
    """A stranger guessing as fast as the throttle lets them, then one guess every 15 minutes, for a day:
    the researcher (another address) gets in at every moment. It used to lock the area for everyone."""
    clock = FakeClock()
    throttle = LoginThrottle(repo, clock=clock) if kind == "database" else MemoryLoginThrottle(clock=clock)
    start, stranger_waits = clock(), []
    while clock() < start + dt.timedelta(hours=24):
        result = throttle.attempt(False, client=STRANGER)
        assert result.outcome in (WRONG, LOCKED) and not result.everyone
        stranger_waits.append(throttle.wait(STRANGER))
        assert throttle.wait(RESEARCHER) == dt.timedelta(0)
        if len(stranger_waits) % 10 == 0:
            assert throttle.attempt(True, client=RESEARCHER).outcome == OK
        clock.advance(seconds=max(result.wait.total_seconds(), 1))
    assert max(stranger_waits) == dt.timedelta(minutes=15)  # the stranger is the one locked out
    assert throttle.attempt(True, client=RESEARCHER).outcome == OK


def test_one_client_cannot_reach_the_global_ceiling():
    policy = ThrottlePolicy()
    assert policy.client_max_in_window() == 13 < policy.global_ceiling


def test_many_clients_together_lock_everyone_until_unlocked(repo, capsys):
    clock = FakeClock(dt.datetime.now(dt.UTC))  # the unlock command runs on the real clock
    throttle = LoginThrottle(repo, clock=clock)
    policy = throttle.policy
    results = [throttle.attempt(False, client=f"192.0.2.{i}") for i in range(policy.global_ceiling)]
    assert not any(r.everyone for r in results[:-1]) and results[-1].everyone
    assert results[-1].wait == policy.lockout and "locked for everyone" in results[-1].message()
    refused = throttle.attempt(True, client=RESEARCHER)  # the right password is not even looked at
    assert refused.outcome == LOCKED and refused.everyone and throttle.locked_for_everyone()

    url = repo.engine.url.render_as_string(hide_password=False)
    assert cli_main(["researcher", "unlock", "--db", url]) == 0
    out = capsys.readouterr().out
    assert out.startswith("database: ") and "1 lock cleared" in out
    assert not throttle.locked_for_everyone() and throttle.wait("192.0.2.1") == dt.timedelta(0)
    assert throttle.attempt(False, client="192.0.2.99").outcome == WRONG  # counting starts again at the unlock
    assert not throttle.locked_for_everyone()
    assert throttle.attempt(True, client=RESEARCHER).outcome == OK
    (unlock,) = [e for e in repo.audit_log() if e.action == "researcher_unlock"]
    assert unlock.actor.startswith("cli") and unlock.detail["locks_cleared"] == 1
    clients = {e.detail["client"] for e in repo.audit_log() if e.action == "login"}
    assert {RESEARCHER, "192.0.2.0", "192.0.2.99"} <= clients


def test_memory_fallback_has_the_global_ceiling_too():
    clock = FakeClock()
    throttle = MemoryLoginThrottle(clock=clock)
    results = [throttle.attempt(False, client=f"192.0.2.{i}") for i in range(throttle.policy.global_ceiling)]
    assert results[-1].everyone and throttle.attempt(True, client=RESEARCHER).outcome == LOCKED
