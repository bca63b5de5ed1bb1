"""All reads and writes of study data. Each method is one transaction and returns plain dataclasses.

The engine decides *what* happens (which condition, which plan, whether an answer is valid); this module
makes it happen atomically. Two guarantees matter most and are enforced here, in the database, not in
Python memory, because several server threads or processes may serve the same participant:

* a participant advances only from the stage the caller expected (``UPDATE ... WHERE stage = :expected``
  after locking the row), so a stale or duplicate submit changes nothing;
* condition counting and enrolment happen under a lock on the study row, so two newcomers cannot both
  take the last free slot of a condition.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from study_app.store.database import READ_ONLY_OPTION, make_engine
from study_app.store.migrate import ensure_schema
from study_app.store.schema import (
    AssignmentRow,
    Base,
    EventRow,
    ParticipantRow,
    QuestionnaireAnswerRow,
    ResponseRow,
    StudyRow,
)

ACTIVE = "active"
COMPLETED = "completed"


class _StaleStage(Exception):
    """Raised inside a transaction to roll it back when another writer moved the participant on."""


def _json(value) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


@dataclass(frozen=True)
class StudyRecord:
    id: int
    slug: str
    file_sha256: str
    title: str
    created_at: dt.datetime
    id_key: str


@dataclass(frozen=True)
class ParticipantRecord:
    id: int
    study_id: int
    token: str
    public_id: str
    condition: int
    seed: int
    status: str
    stage: int
    stage_shown_at: dt.datetime | None
    created_at: dt.datetime
    consented_at: dt.datetime
    last_seen_at: dt.datetime
    completed_at: dt.datetime | None
    prolific_pid: str | None
    prolific_study_id: str | None
    prolific_session_id: str | None
    external_ids_hashed: bool


@dataclass(frozen=True)
class Enrolment:
    """What a newcomer is given; ``condition_label`` and ``plan`` come from the engine's callback."""

    participant: ParticipantRecord
    plan_json: str


@dataclass(frozen=True)
class NewResponse:
    """A trial answer to store, already validated and scored by the engine."""

    trial_index: int
    phase: str
    task: str
    image_id: str
    answer: dict
    answer_sha256: str
    correct: bool | None
    is_attention_check: bool
    attention_passed: bool | None


@dataclass(frozen=True)
class StoredResponse:
    participant_id: int
    trial_index: int
    phase: str
    task: str
    image_id: str
    shown_at: dt.datetime | None
    answered_at: dt.datetime
    response_time_ms: int | None
    answer: dict
    answer_sha256: str
    correct: bool | None
    is_attention_check: bool
    attention_passed: bool | None


@dataclass(frozen=True)
class StoredQuestionnaireAnswer:
    participant_id: int
    questionnaire: str
    question_id: str
    answer: object
    shown_at: dt.datetime | None
    answered_at: dt.datetime


@dataclass(frozen=True)
class StoredEvent:
    id: int
    participant_id: int | None
    kind: str
    at: dt.datetime
    detail: dict
    sha256: str | None


def _participant(row: ParticipantRow) -> ParticipantRecord:
    return ParticipantRecord(
        id=row.id, study_id=row.study_id, token=row.token, public_id=row.public_id, condition=row.condition,
        seed=row.seed, status=row.status, stage=row.stage, stage_shown_at=row.stage_shown_at,
        created_at=row.created_at, consented_at=row.consented_at, last_seen_at=row.last_seen_at,
        completed_at=row.completed_at, prolific_pid=row.prolific_pid, prolific_study_id=row.prolific_study_id,
        prolific_session_id=row.prolific_session_id, external_ids_hashed=row.external_ids_hashed,
    )


def _study(row: StudyRow) -> StudyRecord:
    return StudyRecord(id=row.id, slug=row.slug, file_sha256=row.file_sha256, title=row.title,
                       created_at=row.created_at, id_key=row.id_key)


LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)  # inactivity timeouts are minutes; finer adds writes


class Repository:
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

    def ensure_study(self, slug: str, file_sha256: str, title: str, now: dt.datetime) -> StudyRecord:
        """The row for this exact study version, created on first use (safe if two servers race)."""
        query = select(StudyRow).where(StudyRow.slug == slug, StudyRow.file_sha256 == file_sha256)
        with self._sessions.begin() as session:
            row = session.scalars(query).first()
            if row is not None:
                return _study(row)
        try:
            with self._sessions.begin() as session:
                # Later versions of a study inherit the first version's key, so a Prolific id hashes the
                # same across edits and participants can be matched between versions.
                earlier = session.scalars(
                    select(StudyRow.id_key).where(StudyRow.slug == slug).order_by(StudyRow.id)
                ).first()
                row = StudyRow(slug=slug, file_sha256=file_sha256, title=title, created_at=now,
                               id_key=earlier or secrets.token_hex(32))
                session.add(row)
                session.flush()
                return _study(row)
        except IntegrityError:
            with self._sessions.begin() as session:
                return _study(session.scalars(query).one())

    def studies(self, slug: str | None = None) -> list[StudyRecord]:
        """Every stored study version (optionally of one slug), oldest first."""
        query = select(StudyRow).order_by(StudyRow.id)
        if slug is not None:
            query = query.where(StudyRow.slug == slug)
        with self._reads.begin() as session:
            return [_study(r) for r in session.scalars(query)]

    # ---- participants --------------------------------------------------------------------------------

    def participant_by_token(self, token: str) -> ParticipantRecord | None:
        with self._reads.begin() as session:
            row = session.scalars(select(ParticipantRow).where(ParticipantRow.token == token)).first()
            return _participant(row) if row else None

    def participant_by_prolific_pid(self, study_id: int, stored_pid: str) -> ParticipantRecord | None:
        with self._reads.begin() as session:
            row = session.scalars(
                select(ParticipantRow)
                .where(ParticipantRow.study_id == study_id, ParticipantRow.prolific_pid == stored_pid)
                .order_by(ParticipantRow.id)
            ).first()
            return _participant(row) if row else None

    def condition_counts(self, study_id: int, active_since: dt.datetime) -> dict[int, int]:
        """Participants per condition who completed or were seen since ``active_since``."""
        with self._reads.begin() as session:
            return self._counts(session, study_id, active_since)

    @staticmethod
    def _counts(session: Session, study_id: int, active_since: dt.datetime) -> dict[int, int]:
        query = (
            select(ParticipantRow.condition, func.count())
            .where(
                ParticipantRow.study_id == study_id,
                or_(
                    ParticipantRow.status == COMPLETED,
                    (ParticipantRow.status == ACTIVE) & (ParticipantRow.last_seen_at >= active_since),
                ),
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
                               consent_detail=consent_detail)
        except IntegrityError:
            # The same token consented twice at once (double click): the other transaction won.
            existing = self.participant_by_token(token)
            if existing is None:
                raise
            return Enrolment(existing, self.plan_json(existing.id))

    def _enrol(self, study_id: int, *, token, now, active_since, choose_condition, make_plan, first_stage,
               external_ids, external_ids_hashed, consent_detail) -> Enrolment:
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
                    return Enrolment(_participant(existing), plan.plan_json if plan else "{}")
            condition = choose_condition(self._counts(session, study_id, active_since))
            seed = secrets.randbits(62)
            label, plan = make_plan(condition, seed)
            plan_json = _json(plan)
            row = ParticipantRow(
                study_id=study_id, token=token, public_id=secrets.token_hex(8), condition=condition, seed=seed,
                status=ACTIVE, stage=first_stage, stage_shown_at=None, created_at=now, consented_at=now,
                last_seen_at=now, completed_at=None, prolific_pid=pid,
                prolific_study_id=external_ids.get("prolific_study_id"),
                prolific_session_id=external_ids.get("prolific_session_id"),
                external_ids_hashed=external_ids_hashed,
            )
            session.add(row)
            session.flush()
            session.add(EventRow(study_id=study_id, participant_id=row.id, kind="consent", at=now,
                                 detail_json=_json(consent_detail), sha256=None))
            session.add(AssignmentRow(participant_id=row.id, condition=condition, condition_label=label,
                                      plan_json=plan_json,
                                      plan_sha256=hashlib.sha256(plan_json.encode()).hexdigest()))
            session.flush()
            return Enrolment(_participant(row), plan_json)

    def plan_json(self, participant_id: int) -> str:
        with self._reads.begin() as session:
            row = session.get(AssignmentRow, participant_id)
            if row is None:
                raise LookupError(f"participant {participant_id} has no assignment")
            return row.plan_json

    def mark_shown(self, participant_id: int, stage: int, now: dt.datetime) -> None:
        """Record when the current stage was first served, and that the participant is active.

        Only the first call for a stage sets the time: a reload must not restart the response clock.
        A render that would change nothing (time already set, seen within the last minute) writes nothing,
        so page loads under load do not queue for the database's write lock.
        """
        with self._reads.begin() as session:
            shown, seen = session.execute(
                select(ParticipantRow.stage_shown_at, ParticipantRow.last_seen_at).where(
                    ParticipantRow.id == participant_id, ParticipantRow.stage == stage)
            ).first() or (None, None)
        if shown is not None and seen is not None and now - seen < LAST_SEEN_RESOLUTION:
            return
        with self._sessions.begin() as session:
            session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.id == participant_id, ParticipantRow.stage == stage,
                       ParticipantRow.stage_shown_at.is_(None))
                .values(stage_shown_at=now)
            )
            session.execute(
                update(ParticipantRow).where(ParticipantRow.id == participant_id).values(last_seen_at=now)
            )

    def advance(
        self,
        participant_id: int,
        *,
        study_id: int,
        expected_stage: int,
        now: dt.datetime,
        response: NewResponse | None = None,
        questionnaire: tuple[str, dict] | None = None,
        answer_sha256: str | None = None,
        answer_detail: dict | None = None,
        complete: bool = False,
    ) -> bool:
        """Store one step's answer and move to the next stage, atomically.

        Returns:
            ``True`` if stored; ``False`` if the participant is no longer at ``expected_stage`` (a stale
            or duplicate submit), in which case nothing was written.
        """
        try:
            with self._sessions.begin() as session:
                row = session.execute(
                    select(ParticipantRow.stage, ParticipantRow.stage_shown_at, ParticipantRow.status)
                    .where(ParticipantRow.id == participant_id)
                    .with_for_update()
                ).first()
                if row is None or row.stage != expected_stage or row.status != ACTIVE:
                    return False
                shown_at = row.stage_shown_at
                if shown_at is not None and shown_at.tzinfo is None:
                    shown_at = shown_at.replace(tzinfo=dt.UTC)
                rt = None if shown_at is None else max(0, round((now - shown_at).total_seconds() * 1000))
                # The next stage is drawn in the same click that stored this answer: it is shown from now.
                values: dict = {"stage": expected_stage + 1, "stage_shown_at": now, "last_seen_at": now}
                if complete:
                    values.update(status=COMPLETED, completed_at=now)
                result = session.execute(
                    update(ParticipantRow)
                    .where(ParticipantRow.id == participant_id, ParticipantRow.stage == expected_stage)
                    .values(**values)
                )
                if result.rowcount != 1:
                    raise _StaleStage
                if response is not None:
                    session.add(ResponseRow(
                        participant_id=participant_id, trial_index=response.trial_index, phase=response.phase,
                        task=response.task, image_id=response.image_id, shown_at=shown_at, answered_at=now,
                        response_time_ms=rt, answer_json=_json(response.answer),
                        answer_sha256=response.answer_sha256, correct=response.correct,
                        is_attention_check=response.is_attention_check,
                        attention_passed=response.attention_passed,
                    ))
                if questionnaire is not None:
                    name, answers = questionnaire
                    for qid, value in answers.items():
                        session.add(QuestionnaireAnswerRow(
                            participant_id=participant_id, questionnaire=name, question_id=qid,
                            answer_json=_json(value), shown_at=shown_at, answered_at=now,
                        ))
                if answer_detail is not None:
                    detail = dict(answer_detail, response_time_ms=rt)
                    session.add(EventRow(study_id=study_id, participant_id=participant_id, kind="answer", at=now,
                                         detail_json=_json(detail), sha256=answer_sha256))
                if complete:
                    session.add(EventRow(study_id=study_id, participant_id=participant_id, kind="completion",
                                         at=now, detail_json="{}", sha256=None))
                session.flush()
                return True
        except (IntegrityError, _StaleStage):
            return False

    def withdraw(self, participant_id: int, now: dt.datetime) -> dict[str, int]:
        """Delete everything stored about a participant and log, without their data, that this happened."""
        with self._sessions.begin() as session:
            row = session.get(ParticipantRow, participant_id, with_for_update=True)
            if row is None:
                return {}
            study_id = row.study_id
            counts = {}
            for name, model in (("responses", ResponseRow), ("questionnaire_answers", QuestionnaireAnswerRow),
                                ("assignments", AssignmentRow)):
                result = session.execute(delete(model).where(model.participant_id == participant_id))
                counts[name] = int(result.rowcount or 0)
            result = session.execute(delete(EventRow).where(EventRow.participant_id == participant_id))
            counts["events"] = int(result.rowcount or 0)
            session.execute(delete(ParticipantRow).where(ParticipantRow.id == participant_id))
            counts["participants"] = 1
            session.add(EventRow(study_id=study_id, participant_id=participant_id, kind="withdrawal", at=now,
                                 detail_json=_json({"deleted": counts}), sha256=None))
            return counts

    # ---- events and export ---------------------------------------------------------------------------

    def log_event(self, study_id: int, kind: str, detail: dict, now: dt.datetime,
                  participant_id: int | None = None, sha256: str | None = None) -> None:
        with self._sessions.begin() as session:
            session.add(EventRow(study_id=study_id, participant_id=participant_id, kind=kind, at=now,
                                 detail_json=_json(detail), sha256=sha256))

    def events(self, study_id: int) -> list[StoredEvent]:
        with self._reads.begin() as session:
            rows = session.scalars(select(EventRow).where(EventRow.study_id == study_id).order_by(EventRow.id))
            return [StoredEvent(id=r.id, participant_id=r.participant_id, kind=r.kind, at=r.at,
                                detail=json.loads(r.detail_json), sha256=r.sha256) for r in rows]

    def participants(self, study_id: int) -> list[ParticipantRecord]:
        with self._reads.begin() as session:
            rows = session.scalars(
                select(ParticipantRow).where(ParticipantRow.study_id == study_id).order_by(ParticipantRow.id)
            )
            return [_participant(r) for r in rows]

    def plans(self, study_id: int) -> dict[int, str]:
        """Plan JSON per participant id."""
        with self._reads.begin() as session:
            rows = session.execute(
                select(AssignmentRow.participant_id, AssignmentRow.plan_json)
                .join(ParticipantRow, ParticipantRow.id == AssignmentRow.participant_id)
                .where(ParticipantRow.study_id == study_id)
            )
            return {int(pid): plan for pid, plan in rows}

    def responses(self, study_id: int) -> Iterator[StoredResponse]:
        """Every stored trial answer of the study, by participant, trial and answer order."""
        with self._reads.begin() as session:
            rows = session.scalars(
                select(ResponseRow)
                .join(ParticipantRow, ParticipantRow.id == ResponseRow.participant_id)
                .where(ParticipantRow.study_id == study_id)
                .order_by(ResponseRow.participant_id, ResponseRow.trial_index, ResponseRow.id)
            ).all()
            return iter([
                StoredResponse(
                    participant_id=r.participant_id, trial_index=r.trial_index, phase=r.phase, task=r.task,
                    image_id=r.image_id, shown_at=r.shown_at, answered_at=r.answered_at,
                    response_time_ms=r.response_time_ms, answer=json.loads(r.answer_json),
                    answer_sha256=r.answer_sha256, correct=r.correct, is_attention_check=r.is_attention_check,
                    attention_passed=r.attention_passed,
                )
                for r in rows
            ])

    def questionnaire_answers(self, study_id: int) -> list[StoredQuestionnaireAnswer]:
        with self._reads.begin() as session:
            rows = session.scalars(
                select(QuestionnaireAnswerRow)
                .join(ParticipantRow, ParticipantRow.id == QuestionnaireAnswerRow.participant_id)
                .where(ParticipantRow.study_id == study_id)
                .order_by(QuestionnaireAnswerRow.id)
            ).all()
            return [StoredQuestionnaireAnswer(participant_id=r.participant_id, questionnaire=r.questionnaire,
                                              question_id=r.question_id, answer=json.loads(r.answer_json),
                                              shown_at=r.shown_at, answered_at=r.answered_at) for r in rows]

    def count_rows(self) -> dict[str, int]:
        """Rows per table, for tests and the researcher dashboard."""
        with self._reads.begin() as session:
            return {
                table.name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
                for table in Base.metadata.sorted_tables
            }
