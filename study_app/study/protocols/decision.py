"""Decision (Bansal et al. 2021; Buçinca et al. 2021): the participant decides what the image shows, with the
advice of their arm (none, the AI's answer, the answer with a map, or a placebo map). Two-step trials ask the
participant's own answer first; trials are drawn per participant with a set share where the AI is wrong
(:mod:`study_app.study.decision` holds the fields, arms and draws; :mod:`study_app.study.placebo` the placebo)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from study_app.i18n import N_
from study_app.study import decision
from study_app.study.answer_checks import int_in, no_extra, show
from study_app.study.errors import AnswerError
from study_app.study.placebo import shuffled_placebo, source_candidates
from study_app.study.plan import Advice, PlannedMap
from study_app.study.predictions import model_class_names
from study_app.study.protocols.base import Protocol, TrialContext, class_index
from study_app.study.steps import (
    ARM_AI,
    ARM_HUMAN,
    ARM_PLACEBO,
    DECISION,
    PHASE_FINAL,
    PHASE_INITIAL,
    PLACEBO_OTHER_IMAGE,
    PLACEBO_RANDOMIZED,
    PLACEBO_SHUFFLED,
    asks_first,
)


class Decision(Protocol):
    name = DECISION
    prompts = {PHASE_INITIAL: N_("What does this image show? Give your answer and how confident you are."),
               PHASE_FINAL: N_("What does this image show? Give your final answer and how confident you are.")}
    fields = decision.DECISION_KEYS
    class_answers = ("initial", "final")
    likert = ("answer_confidence_final",)  # the outcome ``correct`` is the final answer; the arm from ``arm``
    reliance = "answer_with_advice"
    draws_per_participant = True

    def parse_fields(self, f, trials):
        return {"decision": decision.parse_decision(f, trials)}

    def prompt(self, phase, sole_answer=False):
        """A trial's only answer is asked as the participant's answer, not as a final one."""
        return self.prompts[PHASE_INITIAL if sole_answer else phase]

    # ---- design: each participant's trials are drawn from the eligible pool ----------------------------------
    def select_items(self, task, preds, rng):
        wrong, right = decision.eligible(task, preds)
        return {"learn": [], "test": sorted(wrong + right)}

    def trials(self, ctx: TrialContext):
        drawn = decision.draw_trials(ctx.task, ctx.preds, ctx.condition, rng=ctx.rng,
                                     within=ctx.study.design.type == "within")
        return [self._phases(ctx, d) for d in drawn]

    def check_trial(self, ctx, image_id):
        """No advice to weigh: the human arm's single answer."""
        return self._phases(ctx, decision.DrawnTrial(image_id, ARM_HUMAN))[0]

    def attention(self, ctx, check):
        expected, prompt = super().attention(ctx, check)
        return {PHASE_FINAL: expected["choice"]}, prompt

    def _phases(self, ctx: TrialContext, drawn: decision.DrawnTrial):
        """Two-step: own answer, then the arm's advice and the final answer; one-step and the human arm
        (nothing to react to): the final answer only."""
        cfg, arm, image_id = ctx.task.decision, drawn.arm, drawn.image_id
        placebo = arm == ARM_PLACEBO
        advice = Advice(arm=arm, variant=cfg.variant, on_request=cfg.advice_on_request and arm != ARM_HUMAN,
                        placebo_source=cfg.placebo_source if placebo else None,
                        placebo_method=cfg.placebo_method if placebo else None, placebo_image_id=drawn.placebo_image_id)
        if placebo:
            maps = _placebo_map(ctx, image_id, ctx.stim.get(drawn.placebo_image_id or ""))
        else:
            maps = () if arm in (ARM_HUMAN, ARM_AI) else ctx.maps(image_id, [arm])
        prediction = None if arm == ARM_HUMAN else ctx.model(image_id).trimmed(1)
        options = model_class_names(ctx.task, ctx.preds)
        final = replace(ctx.step(image_id, [arm], "test", PHASE_FINAL, prediction, maps, options), advice=advice)
        if not asks_first(arm, cfg.variant):
            return [final]
        return [replace(ctx.step(image_id, [arm], "test", PHASE_INITIAL, None, (), options), advice=advice), final]

    # ---- answers -------------------------------------------------------------------------------------------
    def validate(self, step, answer: Mapping) -> dict:
        key = PHASE_INITIAL if step.phase == PHASE_INITIAL else PHASE_FINAL
        on_request = step.phase == PHASE_FINAL and step.advice is not None and step.advice.on_request
        allowed = {key, f"confidence_{key}", "comment"} | ({"advice_requested", "advice_requested_ms"} if on_request else set())
        no_extra(answer, allowed)
        if not isinstance(answer.get(key), str) or answer[key] not in step.options:
            raise AnswerError(key, f"{show(answer.get(key))} is not one of {', '.join(step.options)}")
        clean = {key: answer[key], f"confidence_{key}": int_in(f"confidence_{key}", answer.get(f"confidence_{key}"),
                                                                *step.scale)}
        if on_request:
            requested = answer.get("advice_requested")
            if not isinstance(requested, bool):
                raise AnswerError("advice_requested", "must be true or false")
            clean["advice_requested"] = requested
            if requested:
                ms = answer.get("advice_requested_ms")
                if isinstance(ms, bool) or not isinstance(ms, int) or ms < 0:
                    raise AnswerError("advice_requested_ms",
                                      f"must be a whole number of milliseconds >= 0, got {show(ms)}")
                clean["advice_requested_ms"] = ms
            elif "advice_requested_ms" in answer:
                raise AnswerError("advice_requested_ms", "only when the advice was requested")
        return clean

    def score(self, step, answer):
        """The trial's outcome is the final answer being the true class; the initial one is in the export."""
        return answer[PHASE_FINAL] == step.true_label if step.phase == PHASE_FINAL else None

    def with_stored_answers(self, step, stored_answer):
        """On a two-step trial's ``final`` phase, the participant's first answer for the page to show
        (``stored_answer(trial_index, phase)``: the stored answer, or ``None``)."""
        trial = step.trial
        if trial is None or trial.phase != PHASE_FINAL or trial.sole_answer:
            return step
        answer = stored_answer(trial.index, PHASE_INITIAL) or {}
        return replace(step, trial=replace(trial, first_answer=answer.get(PHASE_INITIAL),
                                           first_confidence=answer.get(f"confidence_{PHASE_INITIAL}")))

    # ---- the export ---------------------------------------------------------------------------------------
    def export_columns(self, first, maps, answers):
        """The arm and how its advice was given (placebo source, method and the image its map was computed on,
        for ``other_image``), and each answer's time under its phase name even when the trial had one phase
        (``response_time_ms_final``)."""
        advice = first.advice
        if advice is None:
            return {}
        out = dict(arm=advice.arm, decision_variant=advice.variant, advice_on_request=advice.on_request,
                   placebo_source=advice.placebo_source, placebo_method=advice.placebo_method,
                   placebo_image_id=advice.placebo_image_id,
                   placebo_image_sha256=next((m.image_sha256 for m in maps if m.key == ARM_PLACEBO and m.image_id),
                                             None))
        for a in answers:
            out[f"response_time_ms_{a.phase}"] = a.response_time_ms
        return out

    # ---- maps ----------------------------------------------------------------------------------------------
    def shown_methods(self, study, task):
        """Only the methods that are the task's arms (and its placebo, in :meth:`required_maps`)."""
        return [m for m in study.methods if m.key in task.decision.arms]

    def required_maps(self, study, task, preds, map_request):
        out = super().required_maps(study, task, preds, map_request)
        cfg = task.decision
        if cfg.placebo_method and cfg.placebo_source == PLACEBO_RANDOMIZED:
            m = replace(study.method(cfg.placebo_method), randomized_model=True)
            out += [(f"{task.name}/{stim.image_id} × placebo ({m.key} on the random model)",
                     map_request(task, stim, m, preds)) for stim in task.stimuli]
        if cfg.placebo_method and cfg.placebo_source == PLACEBO_SHUFFLED:
            m = shuffled_placebo(study.method(cfg.placebo_method))
            out += [(f"{task.name}/{stim.image_id} × placebo ({m.key}, scores shuffled)",
                     map_request(task, stim, m, preds)) for stim in task.stimuli]
        if cfg.placebo_source == PLACEBO_OTHER_IMAGE:
            out += _other_image_placebos(study, task, preds, map_request, {request for _, request in out})
        return out


def _placebo_map(ctx: TrialContext, image_id: str, other) -> tuple[PlannedMap, ...]:
    """The placebo arm's map (:mod:`study_app.study.placebo`), keyed ``placebo`` and labelled as its method,
    explaining the class the trial's advice names (the model's prediction on the image) and drawn over it: the
    method on the weight-randomised model (source ``randomized_model``), or the method's map of ``other``,
    another stimulus, for that class (``other_image``; its image is the map's own)."""
    task, stim = ctx.task, ctx.stim[image_id]
    m = ctx.study.method(task.decision.placebo_method)
    if task.decision.placebo_source == PLACEBO_RANDOMIZED:
        m, source = replace(m, randomized_model=True), stim
    elif task.decision.placebo_source == PLACEBO_SHUFFLED:
        m, source = shuffled_placebo(m), stim
    elif other is None or other.image_id == image_id:
        raise ValueError(f"task {task.name}: the placebo of {image_id} needs another stimulus's map")
    else:
        source = other
    index = class_index(task, ctx.preds, ctx.preds.by_image[image_id].label)
    return (ctx.planned_map(m, stim, index, key=ARM_PLACEBO, source=source),)


def _other_image_placebos(study, task, preds, map_request, listed: set) -> list[tuple[str, object]]:
    """The maps an ``other_image`` placebo can take from another stimulus, for the class each shown stimulus's
    advice names, that are not listed already (a same-class source's map is its own top-1 map)."""
    stimuli = {s.image_id: s for s in task.stimuli}
    m = study.method(task.decision.placebo_method)
    out = []
    for shown in sorted(set().union(*decision.eligible(task, preds))):
        target = preds.by_image[shown].label
        for source in source_candidates(task, preds, shown):
            request = map_request(task, stimuli[source], m, preds, target, per_class=False)
            if request not in listed:
                listed.add(request)
                out.append((f"{task.name}/{source} × {m.key} → {target} (placebo for {shown})", request))
    return out
