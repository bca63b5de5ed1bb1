"""The repository's bulk reads (exports, dashboard, audit log), kept apart from the participant writes.

A mixin rather than a second class so callers keep one object (``Repository``); every method runs in a
read-only transaction (on SQLite a deferred ``BEGIN``: a dashboard never queues behind participants' writes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from sqlalchemy import Select, func, select
from sqlalchemy.orm import sessionmaker

from study_app.store.records import (
    BOT_SIGNAL_COLUMNS,
    SIGNAL_COLUMNS,
    AuditEntry,
    ParticipantRecord,
    ShownMapRecord,
    ShownTrial,
    StoredBotSignals,
    StoredEvent,
    StoredQuestionnaireAnswer,
    StoredResponse,
    participant_record,
)
from study_app.store.schema import (
    AssignmentRow,
    Base,
    BotSignalsRow,
    EventRow,
    ParticipantRow,
    QuestionnaireAnswerRow,
    ResearcherLogRow,
    ResponseRow,
    ShownTrialRow,
)


class StudyReads:
    _reads: sessionmaker

    def events(self, study_id: int, kind: str | None = None) -> list[StoredEvent]:
        """The study's events, oldest first (only those of ``kind`` when given)."""
        query = select(EventRow).where(EventRow.study_id == study_id).order_by(EventRow.id)
        with self._reads.begin() as session:
            rows = session.scalars(query if kind is None else query.where(EventRow.kind == kind))
            return [StoredEvent(id=r.id, participant_id=r.participant_id, kind=r.kind, at=r.at,
                                detail=json.loads(r.detail_json), sha256=r.sha256) for r in rows]

    def participants(self, study_id: int) -> list[ParticipantRecord]:
        with self._reads.begin() as session:
            rows = session.scalars(
                select(ParticipantRow).where(ParticipantRow.study_id == study_id).order_by(ParticipantRow.id)
            )
            return [participant_record(r) for r in rows]

    def plans(self, study_id: int) -> dict[int, str]:
        """Plan JSON per participant id."""
        with self._reads.begin() as session:
            rows = session.execute(_of_study(select(AssignmentRow.participant_id, AssignmentRow.plan_json),
                                             AssignmentRow, study_id))
            return {int(pid): plan for pid, plan in rows}

    def responses(self, study_id: int) -> Iterator[StoredResponse]:
        """Every stored trial answer of the study, by participant, trial and answer order."""
        with self._reads.begin() as session:
            rows = session.scalars(_of_study(select(ResponseRow), ResponseRow, study_id).order_by(
                ResponseRow.participant_id, ResponseRow.trial_index, ResponseRow.id)).all()
            return iter([
                StoredResponse(
                    participant_id=r.participant_id, trial_index=r.trial_index, phase=r.phase, task=r.task,
                    image_id=r.image_id, shown_at=r.shown_at, answered_at=r.answered_at,
                    response_time_ms=r.response_time_ms, answer=json.loads(r.answer_json),
                    answer_sha256=r.answer_sha256, correct=r.correct, is_attention_check=r.is_attention_check,
                    attention_passed=r.attention_passed,
                    signals={name: getattr(r, name) for name in SIGNAL_COLUMNS},
                )
                for r in rows
            ])

    def shown_trials(self, study_id: int) -> list[ShownTrial]:
        """What each participant was shown, per trial phase, as recorded when it was shown."""
        with self._reads.begin() as session:
            rows = session.scalars(_of_study(select(ShownTrialRow), ShownTrialRow, study_id).order_by(
                ShownTrialRow.participant_id, ShownTrialRow.trial_index, ShownTrialRow.id)).all()
            return [ShownTrial(trial_index=r.trial_index, phase=r.phase, checkpoint_sha256=r.checkpoint_sha256,
                               image_sha256=r.image_sha256, target_index=r.target_index, target_label=r.target_label,
                               maps=tuple(ShownMapRecord(**m) for m in json.loads(r.maps_json)),
                               participant_id=r.participant_id, shown_at=r.shown_at) for r in rows]

    def questionnaire_answers(self, study_id: int) -> list[StoredQuestionnaireAnswer]:
        with self._reads.begin() as session:
            rows = session.scalars(_of_study(select(QuestionnaireAnswerRow), QuestionnaireAnswerRow, study_id)
                                   .order_by(QuestionnaireAnswerRow.id)).all()
            return [StoredQuestionnaireAnswer(participant_id=r.participant_id, questionnaire=r.questionnaire,
                                              question_id=r.question_id, answer=json.loads(r.answer_json),
                                              shown_at=r.shown_at, answered_at=r.answered_at) for r in rows]

    def bot_signals(self, study_id: int) -> list[StoredBotSignals]:
        """Every answered step's bot signals (table ``bot_signals``), by participant and stage."""
        with self._reads.begin() as session:
            rows = session.scalars(_of_study(select(BotSignalsRow), BotSignalsRow, study_id).order_by(
                BotSignalsRow.participant_id, BotSignalsRow.stage)).all()
            return [StoredBotSignals(participant_id=r.participant_id, stage=r.stage, trial_index=r.trial_index,
                                     phase=r.phase, questionnaire=r.questionnaire,
                                     signals={name: getattr(r, name) for name in BOT_SIGNAL_COLUMNS}) for r in rows]

    def audit_log(self, *, limit: int | None = None) -> list[AuditEntry]:
        """The researcher audit log, newest first (``limit`` newest entries, or all)."""
        query = select(ResearcherLogRow).order_by(ResearcherLogRow.id.desc())
        if limit is not None:
            query = query.limit(limit)
        with self._reads.begin() as session:
            return [AuditEntry(id=r.id, at=r.at, action=r.action, outcome=r.outcome, actor=r.actor,
                               study_slug=r.study_slug, detail=json.loads(r.detail_json))
                    for r in session.scalars(query)]

    def count_rows(self) -> dict[str, int]:
        """Rows per table, for tests and the researcher dashboard."""
        with self._reads.begin() as session:
            return {
                table.name: int(session.execute(select(func.count()).select_from(table)).scalar_one())
                for table in Base.metadata.sorted_tables
            }


def _of_study(query: Select, row: type, study_id: int) -> Select:
    """``query`` over ``row`` (a table with ``participant_id``) kept to the rows of ``study_id``'s participants."""
    return query.join(ParticipantRow, ParticipantRow.id == row.participant_id).where(ParticipantRow.study_id == study_id)
