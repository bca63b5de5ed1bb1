"""Who takes part and how they leave early: the pilot link's key and the screen-out rule.

A *pilot* participant comes through a link carrying :func:`pilot_key` (shown to the researcher on the
progress page); they run the real flow and are stored flagged, so they never count towards the assignment
balance and stay out of exports and analysis unless asked for. The key is derived from the study's id key,
so participants cannot guess it and it survives restarts and replicas.

*Screen-out*: a study file with ``screen_out_after = N`` ends the study for a participant at their N-th
failed attention check; they see a polite end page with the screened-out code, their answers stay, and
their slot returns to the pool (the balance counts only active and completed participants).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac

from study_app.study.steps import SCREENED_OUT, Step

PILOT_PARAM = "pilot"  # the URL parameter of the pilot link


def pilot_key(id_key: bytes, study_slug: str) -> str:
    """The pilot link's key for this study (HMAC-SHA256 of the slug under the id key, 20 hex digits)."""
    return hmac.new(id_key, f"pilot:{study_slug}".encode(), hashlib.sha256).hexdigest()[:20]


def is_pilot_link(given: str | None, key: str) -> bool:
    """``given`` (the link's ``pilot`` parameter) is the study's pilot key (compared in constant time)."""
    return bool(given) and hmac.compare_digest(str(given), key)


def screened_out_step() -> Step:
    return Step(kind=SCREENED_OUT, step_id=SCREENED_OUT)


def screen_out_due(study, repository, participant_id: int) -> int | None:
    """Before storing a failed attention check: the failures counting this one if they reach the study's
    ``screen_out_after`` (the study then ends, even on the last trial), else ``None`` (one read)."""
    if study.screen_out_after is None:
        return None
    failures = repository.attention_failures(participant_id) + 1
    return failures if failures >= study.screen_out_after else None


def screen_out(repository, participant_id: int, failures: int, *, study_id: int, now: dt.datetime) -> Step:
    repository.screen_out(participant_id, study_id=study_id, now=now,
                          reason={"rule": "screen_out_after", "failed_attention_checks": failures})
    return screened_out_step()
