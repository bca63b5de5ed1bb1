"""Each Prolific submission next to what we hold for it, and what the study file's rules do with it.

Matching: a submission's ``participant_id`` is stored as our participants' ``prolific_pid`` (as given, or as
the HMAC-SHA256 under the study's id key, :mod:`study_app.study.id_key`), in any stored version of the study.
Our outcome for a submission:

* ``completed``, ``screened_out``, ``active`` (still in the study or walked away), ``returned`` /
  ``timed_out`` (marked by ``sync``), ``pilot``: we hold the participant;
* ``no_consent``: no participant, and the no-consent code was entered (declining stores nothing);
* ``withdrawn``: no participant, and a withdrawal event names this submission (a withdrawal deletes every
  answer; the event keeps only the SHA-256 of the stored, keyed-hash submission id);
* ``unmatched``: nothing of ours (never reached consent, or came without their Prolific id).

Bonus: ``bonus_per_correct`` per correct *final* answer (each test trial's last answered phase that is scored,
attention checks left out), at most ``bonus_max``, for completed participants only.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from study_app.store.records import ACTIVE, COMPLETED, SCREENED_OUT, ParticipantRecord, StudyRecord
from study_app.store.recruitment_writes import RETURNED, TIMED_OUT
from study_app.study.id_key import IdKey
from study_app.study.schema import Study

NO_CONSENT, WITHDRAWN, PILOT, UNMATCHED = "no_consent", "withdrawn", "pilot", "unmatched"
OUTCOMES = (COMPLETED, SCREENED_OUT, NO_CONSENT, WITHDRAWN, PILOT, UNMATCHED, ACTIVE, RETURNED, TIMED_OUT)
# Prolific's submission statuses (list study submissions).
AWAITING_REVIEW, APPROVED = "AWAITING REVIEW", "APPROVED"
PROLIFIC_RETURNED, PROLIFIC_TIMED_OUT = "RETURNED", "TIMED-OUT"
SYNC_STATUS = {PROLIFIC_RETURNED: RETURNED, PROLIFIC_TIMED_OUT: TIMED_OUT}
RULE_OF = {SCREENED_OUT: "screened_out", NO_CONSENT: "no_consent", UNMATCHED: "unmatched"}


@dataclass(frozen=True)
class Submission:
    """One Prolific submission with our outcome (``participant``: ours, when we hold one)."""

    submission_id: str
    prolific_pid: str
    status: str
    study_code: str | None
    outcome: str
    participant: ParticipantRecord | None = None
    correct_final: int | None = None

    @property
    def public_id(self) -> str | None:
        """Our pseudonym for the participant (what the audit log names), or ``None``."""
        return self.participant.public_id if self.participant else None


class Holdings:
    """What the database holds for one study (every stored version), to match submissions against.

    Args:
        versions: The study's stored versions (``repository.studies(slug)``).
        participants: ``{version id: participants}``.
        key: The external-id key (``None`` when the study keeps ids verbatim and no key is configured).
        withdrawn: SHA-256 values of withdrawn participants' stored submission ids (withdrawal events).
        correct_final: ``{participant id: correct final answers}``.
    """

    def __init__(self, versions: list[StudyRecord], participants: Mapping[int, list[ParticipantRecord]],
                 key: IdKey | None, withdrawn: Iterable[str] = (), correct_final: Mapping[int, int] | None = None):
        self.versions = versions
        self._keys = {v.id: self._key_bytes(v, key) for v in versions}
        self._by_pid = {(p.study_id, p.prolific_pid): p for ps in participants.values() for p in ps if p.prolific_pid}
        self._withdrawn = set(withdrawn)
        self.correct_final = dict(correct_final or {})

    @staticmethod
    def _key_bytes(version: StudyRecord, key: IdKey | None) -> bytes | None:
        if key is None:
            return None
        if key.in_database:
            return version.id_key.encode("utf-8") if version.id_key else None
        return key.value

    def _forms(self, version_id: int, value: str) -> list[str]:
        """``value`` as a participant row may store it: verbatim, and keyed-hashed with the version's key."""
        key = self._keys.get(version_id)
        return [value] + ([hmac.new(key, value.encode("utf-8"), "sha256").hexdigest()] if key else [])

    def participant(self, prolific_pid: str) -> ParticipantRecord | None:
        for version in reversed(self.versions):  # the newest version first
            for stored in self._forms(version.id, prolific_pid):
                if (found := self._by_pid.get((version.id, stored))) is not None:
                    return found
        return None

    def withdrew(self, submission_id: str) -> bool:
        return any(hashlib.sha256(stored.encode()).hexdigest() in self._withdrawn
                   for version in self.versions for stored in self._forms(version.id, submission_id))


def outcome_of(study: Study, participant: ParticipantRecord | None, study_code: str | None, withdrew: bool) -> str:
    if participant is not None:
        return PILOT if participant.pilot else participant.status
    if withdrew:
        return WITHDRAWN
    if study_code and study.no_consent_code and study_code.strip() == study.no_consent_code:
        return NO_CONSENT
    return UNMATCHED


def reconcile(study: Study, holdings: Holdings, raw: Iterable[dict]) -> list[Submission]:
    """Each submission Prolific listed (``raw``) with our outcome."""
    out = []
    for item in raw:
        sid, pid = str(item.get("id") or ""), str(item.get("participant_id") or item.get("participant") or "")
        code = item.get("study_code", item.get("entered_code"))
        participant = holdings.participant(pid) if pid else None
        outcome = outcome_of(study, participant, code, participant is None and bool(sid) and holdings.withdrew(sid))
        out.append(Submission(submission_id=sid, prolific_pid=pid, status=str(item.get("status") or ""),
                              study_code=code, outcome=outcome, participant=participant,
                              correct_final=holdings.correct_final.get(participant.id) if participant else None))
    return out


def correct_final_answers(responses: Iterable) -> dict[int, int]:
    """``{participant id: correct final answers}``: per trial, the last answered phase that was scored
    (``correct`` not ``None``), attention checks left out."""
    last: dict[tuple[int, int], object] = {}
    for r in responses:
        if r.is_attention_check or r.correct is None:
            continue
        key = (r.participant_id, r.trial_index)
        if key not in last or r.answered_at >= last[key].answered_at:
            last[key] = r
    counts: dict[int, int] = {}
    for (participant_id, _), r in last.items():
        counts[participant_id] = counts.get(participant_id, 0) + int(bool(r.correct))
    return counts


# ---- what the rules do ------------------------------------------------------------------------------------

def to_approve(submissions: list[Submission], study: Study) -> list[Submission]:
    """Completed participants awaiting review, and the outcomes whose rule says ``approve``."""
    rules = study.recruitment
    return [s for s in submissions if s.status == AWAITING_REVIEW and (
        s.outcome == COMPLETED or getattr(rules, RULE_OF.get(s.outcome, ""), None) == "approve")]


def to_settle(submissions: list[Submission], study: Study, action: str) -> list[Submission]:
    """Submissions awaiting review whose outcome's rule is ``action`` (``reject`` or ``return``). A withdrawn
    participant is asked to return when the no-consent rule rejects: a withdrawal is never rejected."""
    rules = study.recruitment
    chosen = []
    for s in submissions:
        if s.status != AWAITING_REVIEW:
            continue
        rule = getattr(rules, RULE_OF[s.outcome]) if s.outcome in RULE_OF else None
        if s.outcome == WITHDRAWN:
            rule = "return" if rules.no_consent in ("return", "reject") else rules.no_consent
        if rule == action:
            chosen.append(s)
    return chosen


def bonuses(submissions: list[Submission], study: Study, already_paid: set[str]) -> dict[str, float]:
    """``{Prolific participant id: bonus}`` under ``bonus_per_correct`` (and ``bonus_max``), for completed
    participants whose submission is awaiting review or approved, and who were not paid a bonus before."""
    rules = study.recruitment
    if rules.bonus_per_correct is None:
        return {}
    out = {}
    for s in submissions:
        if s.outcome != COMPLETED or s.status not in (AWAITING_REVIEW, APPROVED) or s.public_id in already_paid:
            continue
        amount = round((s.correct_final or 0) * rules.bonus_per_correct, 2)
        if rules.bonus_max is not None:
            amount = min(amount, rules.bonus_max)
        if amount > 0:
            out[s.prolific_pid] = amount
    return out


def to_sync(submissions: list[Submission]) -> list[tuple[Submission, str]]:
    """Our active participants whose submission Prolific reports returned or timed out, with the status to set."""
    return [(s, SYNC_STATUS[s.status]) for s in submissions
            if s.participant is not None and s.participant.status == ACTIVE and s.status in SYNC_STATUS]
