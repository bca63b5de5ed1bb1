"""What ``xai-study prolific`` writes: a participant Prolific reports as returned or timed out leaves the
assignment balance (their status says so; the balance counts only active and completed participants), in one
transaction with an event naming why; and each matched participant's submission status and bonus paid
(table ``prolific_submissions``, migration 0008), which the participants export reads."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from sqlalchemy import select, update
from sqlalchemy.orm import sessionmaker

from study_app.store.records import ACTIVE, canonical_json
from study_app.store.schema import EventRow, ParticipantRow, ProlificSubmissionRow

RETURNED = "returned"  # Prolific: the participant returned the submission
TIMED_OUT = "timed_out"  # Prolific: the submission timed out
ENDED_BY_RECRUITER = (RETURNED, TIMED_OUT)


class RecruitmentWrites:
    _sessions: sessionmaker
    _reads: sessionmaker

    def record_submissions(self, statuses: Mapping[int, str], now: dt.datetime,
                           bonus_minor: Mapping[int, int] | None = None) -> None:
        """Keep each participant's Prolific submission status (``{participant id: status}``) and add
        ``bonus_minor`` (pence/cents paid now) to their bonus paid, in one transaction."""
        bonus_minor = dict(bonus_minor or {})
        ids = set(statuses) | set(bonus_minor)
        if not ids:
            return
        with self._sessions.begin() as session:
            existing = {r.participant_id: r for r in session.scalars(
                select(ProlificSubmissionRow).where(ProlificSubmissionRow.participant_id.in_(ids)))}
            alive = set(session.scalars(select(ParticipantRow.id).where(ParticipantRow.id.in_(ids))))
            for pid in ids & alive:  # a participant who withdrew meanwhile keeps nothing
                row = existing.get(pid)
                if row is None:
                    row = ProlificSubmissionRow(participant_id=pid, status=statuses.get(pid, ""), bonus_paid_minor=0,
                                                updated_at=now)
                    session.add(row)
                row.status = statuses.get(pid, row.status)
                row.bonus_paid_minor += int(bonus_minor.get(pid, 0))
                row.updated_at = now

    def prolific_submissions(self, participant_ids) -> dict[int, tuple[str, int]]:
        """``{participant id: (Prolific status, bonus paid in minor units)}`` for those with a row."""
        with self._reads.begin() as session:
            return {r.participant_id: (r.status, r.bonus_paid_minor) for r in session.scalars(
                select(ProlificSubmissionRow).where(ProlificSubmissionRow.participant_id.in_(list(participant_ids))))}

    def end_by_recruiter(self, participant_id: int, status: str, *, study_id: int, now: dt.datetime,
                         detail: dict) -> bool:
        """Mark an *active* participant ``returned`` or ``timed_out`` (their condition slot is freed); ``False``
        when they are not active any more (completed, screened out, already marked: nothing changes)."""
        if status not in ENDED_BY_RECRUITER:
            raise ValueError(f"status must be one of {', '.join(ENDED_BY_RECRUITER)}, got {status!r}")
        with self._sessions.begin() as session:
            result = session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.id == participant_id, ParticipantRow.status == ACTIVE)
                .values(status=status)
            )
            if not result.rowcount:
                return False
            session.add(EventRow(study_id=study_id, participant_id=participant_id, kind="recruiter_status", at=now,
                                 detail_json=canonical_json({"status": status, **detail}), sha256=None))
            return True
