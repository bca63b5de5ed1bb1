"""All reads and writes of study data. Each method is one transaction and returns plain dataclasses.

The engine decides *what* happens (which condition, which plan, whether an answer is valid); the repository
makes it happen atomically. This module holds the study versions, participant lookups and enrolment; the
participant's moves (stage shown, answer stored, withdrawal) are in :mod:`.stage_writes`, bulk reads in
:mod:`.reads` and the logs in :mod:`.logs`, all mixed into the one :class:`Repository`. Guarantees are
enforced in the database, not in Python memory, because several server threads or processes may serve
the same participant: condition counting and enrolment happen under a lock on the study row, so two
newcomers cannot both take the last free slot of a condition (for stages, see :mod:`.stage_writes`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable, Mapping

from sqlalchemy import Engine, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from study_app.store.database import READ_ONLY_OPTION, make_engine
from study_app.store.logs import LogWrites
from study_app.store.migrate import ensure_schema
from study_app.store.reads import StudyReads
from study_app.store.records import (  # noqa: F401 - re-exported: the engine and tests import them from here
    ACTIVE,
    COMPLETED,
    AuditEntry,
    Enrolment,
    NewResponse,
    ParticipantRecord,
    StoredEvent,
    StoredQuestionnaireAnswer,
    StoredResponse,
    StudyRecord,
    canonical_json,
    participant_record,
    study_record,
    token_sha256,
)
from study_app.store.recruitment_writes import RecruitmentWrites
from study_app.store.schema import AssignmentRow, EventRow, ParticipantRow, StudyRow
from study_app.store.stage_writes import StageWrites

_json = canonical_json


class Repository(StudyReads, LogWrites, StageWrites, RecruitmentWrites):
    """Study storage over any SQLAlchemy engine.

    Args:
        engine: From :func:`study_app.store.database.make_engine` (SQLite needs its settings).
        create_tables: Create an empty database's tables on construction (through the migrations); a
            database at another schema revision raises :class:`~study_app.store.migrate.SchemaMismatch`.
    """

    def __init__(self, engine: Engine, *, create_tables: bool = True):
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # Pure reads: on SQLite a deferred BEGIN, so page loads never wait for the write lock.
        self._reads = sessionmaker(engine.execution_options(**{READ_ONLY_OPTION: True}), expire_on_commit=False)
        if create_tables:
            ensure_schema(engine)  # through the migrations; SchemaMismatch names the upgrade command

    @classmethod
    def from_url(cls, url: str, **kwargs) -> Repository:
        return cls(make_engine(url), **kwargs)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.engine.dispose()

    # ---- studies -------------------------------------------------------------------------------------

    def ensure_study(self, slug: str, file_sha256: str, title: str, now: dt.datetime, *,
                     key_in_database: bool = False) -> StudyRecord:
        """The row for this exact study version, created on first use (safe if two servers race).

        Args:
            key_in_database: Keep an external-id HMAC key in the row (the pre-0002 behaviour, now only on
                request, see :mod:`study_app.study.id_key`): an earlier version's key is inherited so a
                Prolific id hashes the same across edits; a row without one gets one.
        """
        query = select(StudyRow).where(StudyRow.slug == slug, StudyRow.file_sha256 == file_sha256)
        with self._sessions.begin() as session:
            row = session.scalars(query).first()
            if row is not None and (row.id_key is not None or not key_in_database):
                return study_record(row)
        try:
            with self._sessions.begin() as session:
                earlier = session.scalars(
                    select(StudyRow.id_key).where(StudyRow.slug == slug, StudyRow.id_key.is_not(None))
                    .order_by(StudyRow.id)
                ).first()
                key = (earlier or secrets.token_hex(32)) if key_in_database else None
                row = session.scalars(query.with_for_update()).first()
                if row is not None:  # an existing row asked to hold a key from now on
                    if row.id_key is None:
                        row.id_key = key
                    return study_record(row)
                row = StudyRow(slug=slug, file_sha256=file_sha256, title=title, created_at=now, id_key=key)
                session.add(row)
                session.flush()
                return study_record(row)
        except IntegrityError:
            with self._sessions.begin() as session:
                return study_record(session.scalars(query).one())

    def studies(self, slug: str | None = None) -> list[StudyRecord]:
        """Every stored study version (optionally of one slug), oldest first."""
        query = select(StudyRow).order_by(StudyRow.id)
        if slug is not None:
            query = query.where(StudyRow.slug == slug)
        with self._reads.begin() as session:
            return [study_record(r) for r in session.scalars(query)]

    # ---- participants --------------------------------------------------------------------------------

    def participant_by_token(self, token: str) -> ParticipantRecord | None:
        """Looked up by the token's hash (computed here, no extra read): the token itself is never stored."""
        digest = token_sha256(token)
        with self._reads.begin() as session:
            row = session.scalars(select(ParticipantRow).where(ParticipantRow.token_sha256 == digest)).first()
            return participant_record(row) if row else None

    def adopt_token(self, participant_id: int, token: str) -> bool:
        """Make ``token`` the participant's resume token (the old one stops working).

        Only the hash is stored, so a participant who comes back through their Prolific link in a new
        browser cannot be handed their old token: the new browser's token is adopted instead. Returns
        ``False`` when the token already belongs to someone else (nothing changed).
        """
        try:
            with self._sessions.begin() as session:
                result = session.execute(update(ParticipantRow).where(ParticipantRow.id == participant_id)
                                         .values(token_sha256=token_sha256(token)))
                return bool(result.rowcount)
        except IntegrityError:
            return False

    def participant_by_prolific_pid(self, study_id: int, stored_pid: str) -> ParticipantRecord | None:
        with self._reads.begin() as session:
            row = session.scalars(
                select(ParticipantRow)
                .where(ParticipantRow.study_id == study_id, ParticipantRow.prolific_pid == stored_pid)
                .order_by(ParticipantRow.id)
            ).first()
            return participant_record(row) if row else None

    def condition_counts(self, study_id: int, active_since: dt.datetime, *, synthetic: bool = False) -> dict[int, int]:
        """Participants per condition who completed or were seen since ``active_since`` (``synthetic``: count
        the simulator's participants instead of the real ones; the two pools are balanced apart)."""
        with self._reads.begin() as session:
            return self._counts(session, study_id, active_since, synthetic)

    @staticmethod
    def _counts(session: Session, study_id: int, active_since: dt.datetime, synthetic: bool = False) -> dict[int, int]:
        query = (
            select(ParticipantRow.condition, func.count())
            .where(
                ParticipantRow.study_id == study_id,
                or_(
                    ParticipantRow.status == COMPLETED,
                    (ParticipantRow.status == ACTIVE) & (ParticipantRow.last_seen_at >= active_since),
                ),
                ParticipantRow.pilot.is_(False),  # pilot runs never tip the balance
                ParticipantRow.synthetic.is_(synthetic),  # nor do synthetic ones a real participant's (or back)
            )
            .group_by(ParticipantRow.condition)
        )
        return {int(c): int(n) for c, n in session.execute(query)}

    def enrol(
        self,
        study_id: int,
        *,
        token: str,
        now: dt.datetime,
        active_since: dt.datetime,
        choose_condition: Callable[[Mapping[int, int]], int],
        make_plan: Callable[[int, int], tuple[str, dict]],
        first_stage: int,
        external_ids: Mapping[str, str | None],
        external_ids_hashed: bool,
        consent_detail: dict,
        pilot: bool = False,
        synthetic: bool = False,
    ) -> Enrolment:
        """Create a consenting participant with a balanced condition and their plan, in one transaction.

        The consent event is written in the same transaction as the participant: no participant exists
        without a recorded consent, and nothing is stored for someone who has not consented.

        Args:
            choose_condition: Given counts of completed-or-active participants per condition, the
                condition for this one (:func:`study_app.study.design.assign_condition`).
            make_plan: ``(condition, seed) -> (condition_label, plan)``.
            external_ids: ``prolific_pid``, ``prolific_study_id``, ``prolific_session_id`` as they
                should be stored (already HMAC-ed unless the study keeps them).

        Returns:
            The new participant, or the existing one if the same Prolific id enrolled meanwhile.
        """
        try:
            return self._enrol(study_id, token=token, now=now, active_since=active_since,
                               choose_condition=choose_condition, make_plan=make_plan, first_stage=first_stage,
                               external_ids=external_ids, external_ids_hashed=external_ids_hashed,
                               consent_detail=consent_detail, pilot=pilot, synthetic=synthetic)
        except IntegrityError:
            # The same token consented twice at once (double click): the other transaction won.
            existing = self.participant_by_token(token)
            if existing is None:
                raise
            return Enrolment(existing, self.plan_json(existing.id))

    def _enrol(self, study_id: int, *, token, now, active_since, choose_condition, make_plan, first_stage,
               external_ids, external_ids_hashed, consent_detail, pilot, synthetic=False) -> Enrolment:
        with self._sessions.begin() as session:
            # Serialise enrolments per study: PostgreSQL row lock; SQLite already holds the write lock.
            session.execute(select(StudyRow.id).where(StudyRow.id == study_id).with_for_update(key_share=True))
            pid = external_ids.get("prolific_pid")
            if pid:
                existing = session.scalars(
                    select(ParticipantRow)
                    .where(ParticipantRow.study_id == study_id, ParticipantRow.prolific_pid == pid)
                    .order_by(ParticipantRow.id)
                ).first()
                if existing is not None:
                    plan = session.get(AssignmentRow, existing.id)
                    return Enrolment(participant_record(existing), plan.plan_json if plan else "{}")
            condition = choose_condition(self._counts(session, study_id, active_since, synthetic))
            seed = secrets.randbits(62)
            label, plan = make_plan(condition, seed)
            plan_json = _json(plan)
            row = ParticipantRow(
                study_id=study_id, token_sha256=token_sha256(token), public_id=secrets.token_hex(8), condition=condition, seed=seed,
                status=ACTIVE, stage=first_stage, stage_shown_at=None, created_at=now, consented_at=now,
                last_seen_at=now, completed_at=None, prolific_pid=pid,
                prolific_study_id=external_ids.get("prolific_study_id"),
                prolific_session_id=external_ids.get("prolific_session_id"),
                external_ids_hashed=external_ids_hashed, pilot=pilot, synthetic=synthetic,
            )
            session.add(row)
            session.flush()
            session.add(EventRow(study_id=study_id, participant_id=row.id, kind="consent", at=now,
                                 detail_json=_json(consent_detail), sha256=None))
            session.add(AssignmentRow(participant_id=row.id, condition=condition, condition_label=label,
                                      plan_json=plan_json,
                                      plan_sha256=hashlib.sha256(plan_json.encode()).hexdigest()))
            session.flush()
            return Enrolment(participant_record(row), plan_json)

    def plan_json(self, participant_id: int) -> str:
        with self._reads.begin() as session:
            row = session.get(AssignmentRow, participant_id)
            if row is None:
                raise LookupError(f"participant {participant_id} has no assignment")
            return row.plan_json
