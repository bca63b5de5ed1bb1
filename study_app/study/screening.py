"""Who takes part and how they leave early: the pilot link's key and the screen-out rule.

A *pilot* participant comes through a link carrying :func:`pilot_key` (shown to the researcher on the
progress page); they run the real flow and are stored flagged, so they never count towards the assignment
balance and stay out of exports and analysis unless asked for. The key is derived from the study's id key,
so participants cannot guess it and it survives restarts and replicas.

*Screen-out*: a study file with ``screen_out_after = N`` ends the study for a participant at their N-th
failed check: failed attention checks and wrong answers to comprehension questions
(:mod:`study_app.study.comprehension`) count together. They see a polite end page with the screened-out
code, their answers stay, and their slot returns to the pool (the balance counts only active and completed
participants). The screen-out event names both counts.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from study_app.study.answers import wrong_answers
from study_app.study.steps import SCREENED_OUT, Step

COMPREHENSION = "comprehension"  # the questionnaire comprehension answers are stored as (export: comprehension_<id>)

PILOT_PARAM = "pilot"  # the URL parameter of the pilot link
SIMULATE_PARAM = "simulate"  # ... and of xai-study simulate --browser's link: the participant is synthetic


def pilot_key(id_key: bytes, study_slug: str, purpose: str = "pilot") -> str:
    """The key of the study's pilot link (``purpose`` "pilot") or simulator link ("simulate"): HMAC-SHA256 of
    the purpose and slug under the id key, 20 hex digits. Only who holds the id key can make either link."""
    return hmac.new(id_key, f"{purpose}:{study_slug}".encode(), hashlib.sha256).hexdigest()[:20]


def is_pilot_link(given: str | None, key: str) -> bool:
    """``given`` (the link's ``pilot`` or ``simulate`` parameter) is the study's key for it (constant time)."""
    return bool(given) and hmac.compare_digest(str(given), key)


def screened_out_step() -> Step:
    return Step(kind=SCREENED_OUT, step_id=SCREENED_OUT)


@dataclass(frozen=True)
class FailedChecks:
    """A participant's failed checks as ``screen_out_after`` counts them."""

    attention: int = 0
    comprehension: int = 0

    @property
    def total(self) -> int:
        return self.attention + self.comprehension


def screen_out_due(study, repository, participant_id: int, *, new_attention: int = 1,
                   new_comprehension: int | None = None) -> FailedChecks | None:
    """Before storing a failed check: the failures counting this one if they reach the study's
    ``screen_out_after`` (the study then ends, even on the last trial), else ``None``.

    ``new_attention``: attention checks failed by the answer about to be stored (1 on a trial, 0 on the
    instructions). ``new_comprehension``: wrong comprehension answers about to be stored; ``None`` reads the
    stored ones and scores them against this study version's ``correct`` options.
    """
    if study.screen_out_after is None:
        return None
    if new_comprehension is None:
        stored = repository.questionnaire_of(participant_id, COMPREHENSION) if study.comprehension else {}
        new_comprehension = len(wrong_answers(study.comprehension, stored)) if stored else 0
    failed = FailedChecks(attention=repository.attention_failures(participant_id) + new_attention,
                          comprehension=new_comprehension)
    return failed if failed.total >= study.screen_out_after else None


def screen_out(repository, participant_id: int, failed: FailedChecks, *, study_id: int, now: dt.datetime) -> Step:
    repository.screen_out(participant_id, study_id=study_id, now=now,
                          reason={"rule": "screen_out_after", "failed_attention_checks": failed.attention,
                                  "failed_comprehension": failed.comprehension})
    return screened_out_step()
