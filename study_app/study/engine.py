"""The participant state machine: consent -> pre-questionnaire -> instructions -> trials -> post -> done.

The database is the only memory of progress. The engine keeps nothing per participant that matters (a
cache of immutable plans; :mod:`study_app.study.identity` holds the external ids a visitor brought before
consenting), so any number of server threads, or a restarted server, serve the same participant
consistently. Every submit names the step it answers; only an answer to the participant's current step is
stored, which makes double clicks, stale tabs and replays harmless.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping

from study_app.i18n import translator
from study_app.store.records import COMPLETED, NewResponse, ParticipantRecord, ShownTrial
from study_app.store.repository import Repository
from study_app.store.stage_writes import LAST_SEEN_RESOLUTION
from study_app.study import answers as answer_checks
from study_app.study import hive
from study_app.study.arm_blocks import ARM_SECTION, arm_questions
from study_app.study.comprehension import check_instructions
from study_app.study.decision import require_pools
from study_app.study.design import assign_condition, build_plan, condition_labels, select_items
from study_app.study.device_gate import device_checked
from study_app.study.id_key import IdKey
from study_app.study.identity import Identities, resolve_study_key
from study_app.study.plan import Plan, StagePlan
from study_app.study.predictions import TaskPredictions, model_class_names, predict_study
from study_app.study.recruitment import QuotaFullError
from study_app.study.schema import Study
from study_app.study.screening import screen_out, screen_out_due, screened_out_step
from study_app.study.showing import MapServer, record_showing
from study_app.study.steps import (
    ARM_QUESTIONNAIRE,
    CONSENT,
    DECLINED,
    DONE,
    HIVE_REVEAL,
    HIVE_STEPS,
    INSTRUCTIONS,
    POST_QUESTIONNAIRE,
    PRE_QUESTIONNAIRE,
    SCREENED_OUT,
    TRIAL,
    WITHDRAWN,
    Step,
)
from study_app.study.views import normalise_external_ids, trial_spec, with_stored_answers

PREVIEW_REVEAL = "*(Preview: here the participant reads how many of their trials were right.)*"
MAX_CACHED_PLANS = 2_000  # parsed plans kept in memory (immutable; re-read from the database on a miss)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class StudyEngine:
    """Runs one study for many participants; thread-safe, share one instance per process.

    Args:
        study: From :func:`study_app.study.loader.load_study`.
        repository: Where progress and answers live.
        predictions: Model outputs per task (:func:`study_app.study.predictions.predict_study`);
            computed here when omitted, which loads every task's checkpoint once.
        clock: Returns the current time (timezone-aware); tests inject a fake one to move time.
        id_key: Secret for the HMAC of external ids (bytes, text, or a resolved
            :class:`~study_app.study.id_key.IdKey`). Defaults to :func:`~study_app.study.id_key.resolve_id_key`:
            env ``XAI_STUDY_ID_KEY``, ``id_key`` in ``.streamlit/secrets.toml``, else one created there. Never
            in the database unless configured as ``database`` (studies begun before schema revision 0002).
        secrets: The app's already-read secrets (``st.secrets``) for that resolution.
        maps: The map server whose maps the pages draw (:class:`study_app.maps.service.StudyMapService`);
            when a trial is shown the engine records what it serves (:mod:`study_app.study.showing`).

    Raises:
        IdKeyError: the study hashes external ids and no key can be had, or its earlier participants were
            hashed with a database key that this configuration would not use.
    """

    def __init__(
        self,
        study: Study,
        repository: Repository,
        *,
        predictions: Mapping[str, TaskPredictions] | None = None,
        clock: Callable[[], dt.datetime] = utc_now,
        id_key: bytes | str | IdKey | None = None,
        secrets: Mapping | None = None,
        maps: MapServer | None = None,
    ):
        self.study = study
        self.repository = repository
        self.maps = maps
        self.clock = clock
        self.predictions = dict(predictions) if predictions is not None else predict_study(study)
        missing = [t.name for t in study.tasks if t.name not in self.predictions]
        if missing:
            raise ValueError(f"predictions missing for task(s) {', '.join(missing)}")
        require_pools(study, self.predictions)  # a decision task its stimuli cannot satisfy never starts
        self.items = select_items(study, self.predictions)
        self.conditions = condition_labels(study)
        key = resolve_study_key(study, repository, id_key, secrets)
        self.record = repository.ensure_study(study.id, study.sha256, study.title, self._now(),
                                              key_in_database=key.in_database)
        self.identities = Identities(study, repository, self.record, key)
        self.id_key_source = key.source
        self._translate = translator(study.language)  # the HIVE question and reveal in the study's language
        self._lock = threading.Lock()
        # Keyed by id *and* the enrolment's pseudonym (unique, random, never reused): even if an id came
        # back, a plan cached for someone who withdrew could never be served to a newcomer.
        self._plans: OrderedDict[tuple[int, str], StagePlan] = OrderedDict()

    # ---- public API ----------------------------------------------------------------------------------

    def start_or_resume(self, token: str | None = None, external_ids: Mapping[str, object] | None = None) -> str:
        """The participant's token: the given one if usable, the one already linked to this Prolific id,
        or a new one. Creates no database row: nothing is stored before consent.

        Args:
            token: What the browser session holds, if anything.
            external_ids: URL parameters; ``PROLIFIC_PID``, ``STUDY_ID`` and ``SESSION_ID`` are kept where
                usable; unusable ones are dropped and noted at consent (:func:`normalise_external_ids`).
        """
        return self.identities.resolve(token, normalise_external_ids(external_ids))[0]

    def resume(self, token: str | None = None,
               external_ids: Mapping[str, object] | None = None) -> tuple[str, Step]:
        """:meth:`start_or_resume` and :meth:`current_step` in one: the token and what to show now, from a
        single read of the participant (the page does this on every script run).
        """
        token, participant = self.identities.resolve(token, normalise_external_ids(external_ids))
        return token, self._consent_step(0) if participant is None else self._step_for(participant, record_shown=True)

    def current_step(self, token: str) -> Step:
        """What to show now. The first time a stage is served, its time is recorded for response timing.

        Raises:
            UnknownParticipantError: the token is malformed or belongs to another study.
        """
        participant = self.identities.participant(token)
        return self._consent_step(0) if participant is None else self._step_for(participant, record_shown=True)

    def submit(self, token: str, step_id: str, answer: Mapping, *, signals: Mapping[str, int] | None = None,
               pilot: bool = False, synthetic: bool = False) -> Step:
        """Store the answer to ``step_id`` if it is the current step, then return the next step (``signals``:
        the browser's data-quality counts for a trial or questionnaire page; ``pilot``: consent via the pilot link; ``synthetic``: consent by
        ``xai-study simulate``'s participant, stored marked and balanced apart). A wrong
        comprehension answer with a retry left returns the instructions again (``retry``; see ``comprehension``).

        Any other step id (stale tab, double click, replay after finishing) changes nothing and returns the
        current step. Each stored answer is one transaction together with the move to the next stage.

        Raises:
            AnswerError: the answer does not fit the step, or the device gate refuses it (nothing is stored).
            UnknownParticipantError: the token is malformed or belongs to another study.
        """
        participant = self.identities.participant(token)
        if participant is None:
            if step_id != CONSENT:
                return self._consent_step(0)
            if not answer_checks.validate_consent(device_checked(self.study.device, answer)):  # or refused
                self.identities.forget(token)
                return Step(kind=DECLINED, step_id=DECLINED)
            if self.identities.pending(token).lack_required_id(self.study, pilot=pilot):
                return self._consent_step(0)  # the page offers no consent to such a visitor (participant_flow)
            try:
                participant = self._enrol(token, pilot=pilot, synthetic=synthetic)
            except QuotaFullError:  # the last slot went while they read the consent text
                return dataclasses.replace(self._consent_step(0), full=True)
            return self._step_for(participant, record_shown=True)
        plan = self._plan(participant)
        stage = participant.stage
        kind = plan.kinds[stage]
        if kind == DONE or step_id != plan.step_id(stage):
            return self._step_for(participant, record_shown=True)
        now = self._now()
        completes = plan.kinds[stage + 1] == DONE

        def advance(clean: dict, **stored) -> bool:
            # Once the answer is valid, with the next stage's showing (none if this answer screens them out).
            return self.repository.advance(
                participant.id, study_id=self.record.id, expected_stage=stage, now=now, complete=completes,
                answer_sha256=answer_checks.answer_sha256(clean), answer_detail={"step": step_id},
                shown=None if failures else self._shown(plan, stage + 1), step_signals=signals, **stored)

        passed = failures = None
        if kind == INSTRUCTIONS:  # with the comprehension questions, if any
            checked = check_instructions(self.study, self.repository, participant.id, answer,
                                         study_id=self.record.id, now=now)
            if checked.retry:
                return dataclasses.replace(self.step_at(plan, stage), retry=True)
            failures = checked.failed
            stored = advance(checked.clean, questionnaire=checked.questionnaire)
        elif kind != TRIAL:  # a questionnaire: before the trials, after an arm's block, HIVE's, after the trials
            clean = answer_checks.validate_questionnaire(self.step_at(plan, stage).questions, answer)
            stored = advance(clean, questionnaire=self._stored_questionnaire(plan, stage, participant.id, clean))
        else:
            spec = plan.trial_step(stage)
            clean = answer_checks.validate_trial(spec, answer)
            correct, passed = answer_checks.score_trial(spec, clean)
            if passed is False and (failures := screen_out_due(self.study, self.repository, participant.id)):
                completes = False  # screened out, not completed, even on the last trial
            stored = advance(clean, response=NewResponse(
                trial_index=spec.trial, phase=spec.phase, task=spec.task, image_id=spec.image_id, answer=clean,
                answer_sha256=answer_checks.answer_sha256(clean), correct=correct,
                is_attention_check=spec.is_attention_check, attention_passed=passed, signals=signals))
        if not stored:  # another tab or process moved the participant on: ask the database where they are
            return self.current_step(token)
        if failures:
            return screen_out(self.repository, participant.id, failures, study_id=self.record.id, now=now)
        # The advance itself recorded the next stage as shown now (it is drawn in this same click).
        moved = dataclasses.replace(participant, stage=stage + 1, stage_shown_at=now, last_seen_at=now,
                                    status=COMPLETED if completes else participant.status,
                                    completed_at=now if completes else participant.completed_at)
        return self._step_for(moved, record_shown=True)

    def withdraw(self, token: str) -> Step:
        """Delete everything stored about this participant (the deletion itself is logged, without data).

        Raises:
            UnknownParticipantError: the token is malformed or belongs to another study.
        """
        participant = self.identities.participant(token)
        self.identities.forget(token)
        if participant is not None:
            self.repository.withdraw(participant.id, self._now())
            with self._lock:
                self._plans.pop((participant.id, participant.public_id), None)
        return Step(kind=WITHDRAWN, step_id=WITHDRAWN)

    @property
    def pilot_key(self) -> str:
        """The key the pilot link carries (``?pilot=KEY``)."""
        return self.identities.pilot_key

    def stages(self, plan: Plan) -> StagePlan:
        """The pages a participant with trial plan ``plan`` goes through, in order (stage 0 is consent)."""
        return StagePlan.of(plan, pre_questionnaire=bool(self.study.pre_questionnaire),
                            per_arm=bool(self.study.arm_questionnaire), hive=self.study.hive_sequence)

    @property
    def simulate_key(self) -> str:
        """The key the simulator's browser link carries (``?simulate=KEY``)."""
        return self.identities.simulate_key

    def condition_counts(self) -> dict[str, int]:
        """Completed-or-active participants per condition label, as assignment sees them now."""
        counts = self.repository.condition_counts(self.record.id, self._active_since(self._now()))
        return {label: counts.get(i, 0) for i, label in enumerate(self.conditions)}

    def hash_external_id(self, value: str) -> str:
        """HMAC-SHA256 of an external id with this engine's key (what is stored unless the study keeps ids)."""
        return self.identities.hash_external_id(value)

    # ---- internals -----------------------------------------------------------------------------------

    def _now(self) -> dt.datetime:
        now = self.clock()
        if now.tzinfo is None:
            raise ValueError("clock() must return a timezone-aware datetime")
        return now

    def _active_since(self, now: dt.datetime) -> dt.datetime:
        return now - dt.timedelta(minutes=self.study.inactive_timeout_minutes)

    def _enrol(self, token: str, pilot: bool = False, synthetic: bool = False) -> ParticipantRecord:
        given = self.identities.pending(token)
        ids, now = dict(given.ids), self._now()

        def make_plan(condition: int, seed: int) -> tuple[str, dict]:
            plan = build_plan(self.study, self.items, self.predictions, condition, seed)
            return plan.condition_label, plan.to_json()

        enrolment = self.repository.enrol(
            self.record.id, token=token, now=now, active_since=self._active_since(now),
            # a real newcomer's among the conditions below their caps; a pilot or a synthetic one is never turned away
            choose_condition=lambda counts: self.study.recruitment.choose(self.conditions, counts)
            if self.study.recruitment.capped and not (pilot or synthetic) else assign_condition(counts, len(self.conditions)),
            make_plan=make_plan, first_stage=1, external_ids=self.identities.stored_ids(ids),
            external_ids_hashed=not self.study.keep_external_ids,
            consent_detail={"study_sha256": self.study.sha256, "external_ids": sorted(ids), "pilot": pilot,
                            **given.notes(self.study, pilot=pilot)},
            pilot=pilot, synthetic=synthetic,
        )
        self.identities.forget(token)
        return enrolment.participant

    def _plan(self, participant: ParticipantRecord) -> StagePlan:
        cache_key = (participant.id, participant.public_id)
        with self._lock:
            cached = self._plans.get(cache_key)
            if cached is not None:
                self._plans.move_to_end(cache_key)
                return cached
        stored = Plan.from_json(json.loads(self.repository.plan_json(participant.id)), self._class_names)
        plan = self.stages(stored)
        with self._lock:
            self._plans[cache_key] = plan
            while len(self._plans) > MAX_CACHED_PLANS:
                self._plans.popitem(last=False)
        return plan

    def _stored_questionnaire(self, plan: StagePlan, stage: int, participant_id: int, clean: dict) -> tuple[str, dict]:
        """``(questionnaire, answers)`` as stored: per-arm answers with the arm in each id (``arm``), HIVE's
        rating under its own id (with the accuracy the reveal showed), the rest as ``pre`` or ``post``."""
        kind = plan.kinds[stage]
        if kind in HIVE_STEPS:
            return hive.stored_answer(kind, clean, self._accuracy(plan, participant_id) if kind == HIVE_REVEAL else None)
        return {PRE_QUESTIONNAIRE: "pre", ARM_QUESTIONNAIRE: ARM_SECTION}.get(kind, "post"), clean

    def _accuracy(self, plan: StagePlan, participant_id: int) -> tuple[int, int]:
        """``(right, scored)`` trials of the participant, from their stored answers (the HIVE reveal)."""
        return hive.own_accuracy(plan.plan.trial_steps, lambda *at: self.repository.trial_answer(participant_id, *at))

    def _shown(self, plan: StagePlan, stage: int) -> ShownTrial | None:
        """The record of showing ``stage`` (trial stages only), with the maps the map server hands out."""
        step = plan.trial_step(stage)
        return None if step is None else record_showing(step, self.maps)

    def _class_names(self, task: str) -> tuple[str, ...]:
        """For plans stored by the first release, which named classes without their index."""
        return model_class_names(self.study.task(task), self.predictions.get(task))

    def _consent_step(self, total: int) -> Step:
        return Step(kind=CONSENT, step_id=CONSENT, text=self.study.consent, progress=(0, total),
                    full=self.quota_full())

    def quota_full(self) -> bool:
        """Whether the study's caps (``[recruitment]``) leave no condition open to a newcomer now."""
        recruitment = self.study.recruitment
        if not recruitment.capped:
            return False
        counts = self.repository.condition_counts(self.record.id, self._active_since(self._now()))
        return not recruitment.open_conditions(self.conditions, counts)

    def _step_for(self, participant: ParticipantRecord, *, record_shown: bool) -> Step:
        if participant.status == SCREENED_OUT:
            return screened_out_step()
        plan = self._plan(participant)
        stage = participant.stage
        if record_shown and plan.kinds[stage] != DONE:
            now = self._now()
            seen = participant.last_seen_at
            if participant.stage_shown_at is None or seen is None or now - seen >= LAST_SEEN_RESOLUTION:
                first = participant.stage_shown_at is None
                self.repository.mark_shown(participant.id, stage, now, self._shown(plan, stage) if first else None)
        step = self.step_at(plan, stage)
        if step.kind == HIVE_REVEAL:  # the participant's own accuracy, from their stored answers
            step = dataclasses.replace(step, text=hive.reveal_text(self._translate, *self._accuracy(plan, participant.id)))
        return with_stored_answers(step, lambda *at: self.repository.trial_answer(participant.id, *at))

    def step_at(self, plan: StagePlan, stage: int) -> Step:
        """What stage ``stage`` of ``plan`` shows (reads and writes nothing: the researcher's preview uses it)."""
        kind = plan.kinds[stage]
        progress = (stage, len(plan.kinds) - 1)
        if kind == CONSENT:
            return self._consent_step(0)
        if kind == DONE:
            return Step(kind=DONE, step_id=DONE, completion_code=self.study.completion_code,
                        redirect_url=self.study.redirect_url, progress=progress)
        step_id = plan.step_id(stage)
        if kind == PRE_QUESTIONNAIRE:
            return Step(kind=kind, step_id=step_id, questions=self.study.pre_questionnaire, progress=progress)
        if kind == POST_QUESTIONNAIRE:
            return Step(kind=kind, step_id=step_id, questions=plan.plan.post_questions, progress=progress)
        if kind == ARM_QUESTIONNAIRE:
            return Step(kind=kind, step_id=step_id, progress=progress,
                        questions=arm_questions(self.study.arm_questionnaire, plan.arm_at[stage]))
        if kind in HIVE_STEPS:  # the reveal's text is the participant's own (_step_for); the preview says so
            return Step(kind=kind, step_id=step_id, progress=progress,
                        questions=(hive.question(self._translate.gettext),),
                        text=PREVIEW_REVEAL if kind == HIVE_REVEAL else "")
        if kind == INSTRUCTIONS:
            return Step(kind=kind, step_id=step_id, text=self.study.instructions,
                        questions=self.study.comprehension, progress=progress)
        return Step(kind=TRIAL, step_id=step_id, progress=progress,
                    trial=trial_spec(plan.trial_step(stage), plan.plan.n_trials, plan.plan.class_labels))
