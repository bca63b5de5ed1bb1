"""The participant's moves through the study: a stage shown, an answer stored with the move on, a withdrawal.

Part of :class:`~study_app.store.repository.Repository` (a mixin, so callers keep one object). Every move
is one transaction, and a participant advances only from the stage the caller expected
(``UPDATE ... WHERE stage = :expected`` after locking the row), so a stale or duplicate submit changes nothing.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import asdict

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import sessionmaker

from study_app.store.records import (
    ACTIVE,
    BOT_SIGNAL_COLUMNS,
    COMPLETED,
    SCREENED_OUT,
    SIGNAL_COLUMNS,
    NewResponse,
    ShownTrial,
    canonical_json,
)
from study_app.store.schema import (
    AssignmentRow,
    BotSignalsRow,
    EventRow,
    ParticipantRow,
    ProlificSubmissionRow,
    QuestionnaireAnswerRow,
    ResearcherLogRow,
    ResponseRow,
    ShownTrialRow,
    StudyRow,
    TrialSignalsRow,
)

LAST_SEEN_RESOLUTION = dt.timedelta(seconds=60)  # inactivity timeouts are minutes; finer adds writes

_json = canonical_json


class _StaleStage(Exception):
    """Raised inside a transaction to roll it back when another writer moved the participant on."""


def _shown_row(participant_id: int, shown: ShownTrial, now: dt.datetime) -> dict:
    return dict(participant_id=participant_id, trial_index=shown.trial_index, phase=shown.phase,
                shown_at=now, checkpoint_sha256=shown.checkpoint_sha256, image_sha256=shown.image_sha256,
                target_index=shown.target_index, target_label=shown.target_label,
                maps_json=_json([asdict(m) for m in shown.maps]))


def _insert(session, row_class, *rows: dict) -> None:
    """Plain INSERTs (Core), not the ORM's unit of work: a click's rows are written, never read back as
    objects, and the flush bookkeeping cost about 0.5 of a click's 2.5 ms database CPU (issue 10)."""
    session.execute(insert(row_class.__table__), list(rows))


# How many page-signal rows a participant has kept, read with the participant's locked row: a click whose
# participant has none (nearly every click) costs no statement more.
_KEPT = select(func.count()).select_from(TrialSignalsRow)


def _with_earlier_loads(session, participant_id: int, response: NewResponse, *, kept: bool) -> dict:
    """The response's signal columns: the submitted counts (this page load's, ``page_load`` naming it) plus
    those kept for the trial phase's other page loads, whose rows are then deleted (read only when the
    participant has ``kept`` rows). All ``None`` when the browser reported nothing at all (nothing is
    invented)."""
    given = dict(response.signals or {})
    where = (TrialSignalsRow.participant_id == participant_id, TrialSignalsRow.trial_index == response.trial_index,
             TrialSignalsRow.phase == response.phase)
    earlier = [*where] if given.get("page_load") is None else [*where, TrialSignalsRow.page_load != given["page_load"]]
    kept = session.execute(
        select(*(getattr(TrialSignalsRow, n) for n in SIGNAL_COLUMNS)).where(*earlier)).all() if kept else []
    if kept:
        session.execute(delete(TrialSignalsRow).where(*where))
    if not kept and not any(given.get(name) is not None for name in SIGNAL_COLUMNS):
        return {name: None for name in SIGNAL_COLUMNS}
    return {name: (given.get(name) or 0) + sum(row[i] for row in kept) for i, name in enumerate(SIGNAL_COLUMNS)}


def _insert_answer(session, participant_id: int, response: NewResponse | None,
                   questionnaire: tuple[str, dict] | None, *, shown_at, now: dt.datetime, rt: int | None,
                   kept: bool) -> None:
    """Insert a step's trial answer (with its page signals) or questionnaire answers."""
    if response is not None:
        _insert(session, ResponseRow, dict(
            participant_id=participant_id, trial_index=response.trial_index, phase=response.phase,
            task=response.task, image_id=response.image_id, shown_at=shown_at, answered_at=now,
            response_time_ms=rt, answer_json=_json(response.answer), answer_sha256=response.answer_sha256,
            correct=response.correct, is_attention_check=response.is_attention_check,
            attention_passed=response.attention_passed,
            **_with_earlier_loads(session, participant_id, response, kept=kept),
        ))
    if questionnaire is not None and questionnaire[1]:
        name, answers = questionnaire
        _insert(session, QuestionnaireAnswerRow, *(dict(
            participant_id=participant_id, questionnaire=name, question_id=qid,
            answer_json=_json(value), shown_at=shown_at, answered_at=now,
        ) for qid, value in answers.items()))


def _bot_row(participant_id: int, stage: int, signals, response: NewResponse | None,
             questionnaire: tuple[str, dict] | None) -> dict | None:
    """The ``bot_signals`` row of an answered step, or ``None`` when the browser reported none of them."""
    if not signals or any(name not in signals for name in BOT_SIGNAL_COLUMNS):
        return None
    return dict(participant_id=participant_id, stage=stage,
                trial_index=response.trial_index if response else None, phase=response.phase if response else None,
                questionnaire=questionnaire[0] if questionnaire else None,
                **{name: signals[name] for name in BOT_SIGNAL_COLUMNS})


class StageWrites:
    _sessions: sessionmaker
    _reads: sessionmaker

    def mark_shown(self, participant_id: int, stage: int, now: dt.datetime, shown: ShownTrial | None = None) -> None:
        """Record when the current stage was first served, and that the participant is active.

        Only the first call for a stage sets the time: a reload must not restart the response clock.
        A render that would change nothing (time already set, seen within the last minute) writes nothing,
        so page loads under load do not queue for the database's write lock. ``shown`` (a trial stage) is
        stored in the same transaction, by the call that sets the time.
        """
        with self._reads.begin() as session:
            shown, seen = session.execute(
                select(ParticipantRow.stage_shown_at, ParticipantRow.last_seen_at).where(
                    ParticipantRow.id == participant_id, ParticipantRow.stage == stage)
            ).first() or (None, None)
        if shown is not None and seen is not None and now - seen < LAST_SEEN_RESOLUTION:
            return
        with self._sessions.begin() as session:
            first = session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.id == participant_id, ParticipantRow.stage == stage,
                       ParticipantRow.stage_shown_at.is_(None))
                .values(stage_shown_at=now)
            )
            if shown is not None and first.rowcount == 1:
                _insert(session, ShownTrialRow, _shown_row(participant_id, shown, now))
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
        shown: ShownTrial | None = None,
        step_signals: dict | None = None,
    ) -> bool:
        """Store one step's answer and move to the next stage, atomically.

        The next stage is shown from now (it is drawn in this same click); ``shown`` records what it shows
        (a trial stage) in the same transaction, so recording provenance costs no extra round trip.
        ``step_signals``: what the browser reported about the step; its bot signals (``BOT_SIGNAL_COLUMNS``, all
        of them or nothing is written) go into ``bot_signals`` in the same transaction.

        Returns:
            ``True`` if stored; ``False`` if the participant is no longer at ``expected_stage`` (a stale
            or duplicate submit), in which case nothing was written.
        """
        try:
            with self._sessions.begin() as session:
                row = session.execute(
                    select(ParticipantRow.stage, ParticipantRow.stage_shown_at, ParticipantRow.status,
                           _KEPT.where(TrialSignalsRow.participant_id == participant_id).scalar_subquery())
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
                _insert_answer(session, participant_id, response, questionnaire, shown_at=shown_at, now=now, rt=rt,
                               kept=row[3] > 0)
                if (bot := _bot_row(participant_id, expected_stage, step_signals, response, questionnaire)):
                    _insert(session, BotSignalsRow, bot)
                events = []
                if answer_detail is not None:
                    detail = dict(answer_detail, response_time_ms=rt)
                    events.append(dict(study_id=study_id, participant_id=participant_id, kind="answer", at=now,
                                       detail_json=_json(detail), sha256=answer_sha256))
                if complete:
                    events.append(dict(study_id=study_id, participant_id=participant_id, kind="completion",
                                       at=now, detail_json="{}", sha256=None))
                if events:
                    _insert(session, EventRow, *events)
                if shown is not None:
                    _insert(session, ShownTrialRow, _shown_row(participant_id, shown, now))
                return True
        except (IntegrityError, _StaleStage):
            return False

    def keep_trial_signals(self, participant_id: int, trial_index: int, phase: str, page_load: str,
                           counts: dict[str, int]) -> None:
        """Keep one page load's counts so far for a trial phase (replacing what that load reported before);
        added to the answer when it is stored (:meth:`advance`). Written only when the browser's counts
        change, which is rare. Nothing once the phase is answered (a stale tab's late report)."""
        key = dict(participant_id=participant_id, trial_index=trial_index, phase=phase, page_load=page_load)
        values = {name: int(counts.get(name) or 0) for name in SIGNAL_COLUMNS}
        with self._sessions.begin() as session:
            answered = session.scalar(select(ResponseRow.id).where(
                ResponseRow.participant_id == participant_id, ResponseRow.trial_index == trial_index,
                ResponseRow.phase == phase))
            if answered is not None:
                return
            updated = session.execute(update(TrialSignalsRow).where(
                *(getattr(TrialSignalsRow, k) == v for k, v in key.items())).values(**values))
            if updated.rowcount == 0:
                _insert(session, TrialSignalsRow, {**key, **values})

    def attention_failures(self, participant_id: int) -> int:
        """How many attention checks this participant has failed (read only when one just failed)."""
        with self._reads.begin() as session:
            return int(session.scalar(
                select(func.count()).select_from(ResponseRow)
                .where(ResponseRow.participant_id == participant_id, ResponseRow.attention_passed.is_(False))
            ) or 0)

    def questionnaire_of(self, participant_id: int, questionnaire: str) -> dict:
        """One participant's stored answers to one questionnaire (``pre``, ``post``, ``comprehension``)."""
        with self._reads.begin() as session:
            rows = session.execute(
                select(QuestionnaireAnswerRow.question_id, QuestionnaireAnswerRow.answer_json)
                .where(QuestionnaireAnswerRow.participant_id == participant_id,
                       QuestionnaireAnswerRow.questionnaire == questionnaire)
            ).all()
            return {r.question_id: json.loads(r.answer_json) for r in rows}

    def trial_answer(self, participant_id: int, trial_index: int, phase: str) -> dict | None:
        """One participant's stored answer to one phase of a trial (a decision trial's first answer), or ``None``."""
        with self._reads.begin() as session:
            text = session.scalar(
                select(ResponseRow.answer_json)
                .where(ResponseRow.participant_id == participant_id, ResponseRow.trial_index == trial_index,
                       ResponseRow.phase == phase)
            )
            return None if text is None else json.loads(text)

    def event_count(self, participant_id: int, kind: str) -> int:
        """How many events of ``kind`` this participant has in the log (e.g. comprehension retries)."""
        with self._reads.begin() as session:
            return int(session.scalar(
                select(func.count()).select_from(EventRow)
                .where(EventRow.participant_id == participant_id, EventRow.kind == kind)
            ) or 0)

    def screen_out(self, participant_id: int, *, study_id: int, now: dt.datetime, reason: dict) -> bool:
        """End an active participant's study by the screen-out rule (their answers stay; the slot is freed:
        the assignment balance counts only active and completed participants). ``False`` if not active."""
        with self._sessions.begin() as session:
            result = session.execute(
                update(ParticipantRow)
                .where(ParticipantRow.id == participant_id, ParticipantRow.status == ACTIVE)
                .values(status=SCREENED_OUT, completed_at=now, last_seen_at=now)
            )
            if result.rowcount != 1:
                return False
            session.add(EventRow(study_id=study_id, participant_id=participant_id, kind="screen_out", at=now,
                                 detail_json=_json(reason), sha256=None))
            return True

    def withdraw(self, participant_id: int, now: dt.datetime) -> dict[str, int]:
        """Delete everything stored about a participant and log, without their data, that this happened.

        Deletes by this participant's id only, which is safe because ids are never reused. The withdrawal
        event carries no participant id (NULL), so no later withdrawal can delete it; it names the exported
        pseudonym so the researcher can remove the participant from files exported earlier. The same
        transaction writes the researcher audit log entry.
        """
        with self._sessions.begin() as session:
            row = session.get(ParticipantRow, participant_id, with_for_update=True)
            if row is None:
                return {}
            study_id, public_id, session_id = row.study_id, row.public_id, row.prolific_session_id
            counts = {}
            for name, model in (("responses", ResponseRow), ("questionnaire_answers", QuestionnaireAnswerRow),
                                ("shown_trials", ShownTrialRow), ("trial_signals", TrialSignalsRow),
                                ("bot_signals", BotSignalsRow),
                                ("prolific_submissions", ProlificSubmissionRow),
                                ("assignments", AssignmentRow)):
                result = session.execute(delete(model).where(model.participant_id == participant_id))
                counts[name] = int(result.rowcount or 0)
            result = session.execute(delete(EventRow).where(EventRow.participant_id == participant_id))
            counts["events"] = int(result.rowcount or 0)
            session.execute(delete(ParticipantRow).where(ParticipantRow.id == participant_id))
            counts["participants"] = 1
            detail = {"participant": public_id, "deleted": counts}
            # The SHA-256 of the stored (keyed-hash) Prolific submission id, so ``xai-study prolific`` can tell a
            # withdrawal (ask to return, never reject) from a stranger; it names nobody without the id key.
            withdrawn = {**detail, "submission_sha256": hashlib.sha256(session_id.encode()).hexdigest()} \
                if session_id else detail
            session.add(EventRow(study_id=study_id, participant_id=None, kind="withdrawal", at=now,
                                 detail_json=_json(withdrawn), sha256=None))
            slug = session.scalar(select(StudyRow.slug).where(StudyRow.id == study_id))
            session.add(ResearcherLogRow(at=now, action="withdrawal", outcome="ok", actor="participant",
                                         study_slug=slug, detail_json=_json(detail)))
            return counts
