"""Experimental design: conditions, balanced assignment, item selection, and each participant's plan.

Three kinds of randomness, kept apart so each is reproducible on its own:

* **Which images** a task uses is fixed for the whole study by ``study.seed`` (and the model's
  predictions, for correctness balancing). Every participant sees the same items; that is what lets a
  Latin square balance methods over images.
* **Which condition** a newcomer gets is not random at all: the least-filled condition, counting only
  participants who finished or are still active (:func:`assign_condition`).
* **The order** of items, options and attention checks comes from the participant's own seed, stored
  with the participant, so :func:`build_plan` rebuilds their exact sequence.
"""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from dataclasses import replace
from functools import lru_cache

from study_app.explain.methods import get_method
from study_app.explain.sanity import RANDOMIZED_SUFFIX
from study_app.explain.service import explanation_key
from study_app.i18n import N_, translator
from study_app.study import decision
from study_app.study.plan import Advice, ModelView, Plan, PlannedMap, TrialStep
from study_app.study.predictions import TaskPredictions
from study_app.study.schema import MethodConfig, Stimulus, Study, TaskConfig
from study_app.study.steps import (
    ARM_AI,
    ARM_HUMAN,
    ARM_PLACEBO,
    DECISION,
    DECISION_LABELS,
    DISTINCTION,
    FORWARD_SIMULATION,
    NO_EXPLANATION,
    PHASE_EXPLANATION,
    PHASE_FINAL,
    PHASE_INITIAL,
    PHASE_LEARN,
    PHASE_MAIN,
    PHASE_PREDICT,
    PHASE_TRUST,
    PLACEBO_RANDOMIZED,
    RATE,
    VERIFICATION,
    VERIFICATION_DECISIONS,
    Question,
    asks_first,
)

# English msgids: the trial page shows them in the study's language.
PROMPTS = {
    (RATE, PHASE_TRUST): N_("How much do you trust this prediction?"),
    (RATE, PHASE_EXPLANATION): N_("For each explanation: did it help or confuse your understanding of the prediction?"),
    (VERIFICATION, PHASE_MAIN): N_("Is the model's prediction correct? Accept or reject it, and say how confident "
                                   "you are."),
    (FORWARD_SIMULATION, PHASE_LEARN): N_("Study the model's prediction and its explanation."),
    (FORWARD_SIMULATION, PHASE_PREDICT): N_("What will the model predict for this image?"),
    (DISTINCTION, PHASE_MAIN): N_("Each map explains one candidate class. Which class did the model predict?"),
    (DECISION, PHASE_INITIAL): N_("What does this image show? Give your answer and how confident you are."),
    (DECISION, PHASE_FINAL): N_("What does this image show? Give your final answer and how confident you are."),
}


def latin_square_arm(arms: Sequence[str], row: int, item_position: int) -> str:
    """Arm shown on the item at ``item_position`` to a participant in Latin-square ``row``.

    A cyclic Latin square: over any ``len(arms)`` consecutive rows every item meets every arm exactly once,
    and within a row every arm covers the same number of items (to within one).
    """
    return arms[(item_position + row) % len(arms)]


def condition_labels(study: Study) -> tuple[str, ...]:
    """One label per condition. Within: Latin-square rows; between: one per arm (method or ``none``).

    With decision tasks, whose arms differ from the methods, there are as many conditions as the least common
    multiple of the arm lists' lengths (:func:`study_app.study.decision.n_conditions`), so each list is
    balanced; a between label then joins the arm of each list (``gradcam/placebo``)."""
    sets, n = decision.arm_sets(study), decision.n_conditions(study)
    if study.design.type == "within":
        return tuple(f"latin-{r}" for r in range(n))
    return tuple("/".join(arms[c % len(arms)] for arms in sets) for c in range(n))


def assign_condition(counts: Mapping[int, int], n_conditions: int) -> int:
    """The least-filled condition; ties go to the lowest index so that filling is deterministic.

    ``counts`` must hold only participants who completed or are still active: someone who walked away
    has released their slot, which the next newcomer takes. Counting everyone would let drop-outs
    unbalance the design, the failure mode of survey platforms.
    """
    return min(range(n_conditions), key=lambda c: (counts.get(c, 0), c))


def _balanced_by(items: list[str], key: Mapping[str, object], n: int, rng: random.Random) -> list[str]:
    """``n`` items drawn round-robin over the groups of ``key`` (shuffled within each group)."""
    groups: dict[object, list[str]] = {}
    for item in items:
        groups.setdefault(key[item], []).append(item)
    order = sorted(groups, key=str)
    for g in order:
        rng.shuffle(groups[g])
    chosen: list[str] = []
    while len(chosen) < n:
        progressed = False
        for g in order:
            if groups[g] and len(chosen) < n:
                chosen.append(groups[g].pop())
                progressed = True
        if not progressed:
            break
    return chosen


def select_items(study: Study, predictions: Mapping[str, TaskPredictions]) -> dict[str, dict[str, list[str]]]:
    """Images each task uses, the same for every participant: ``{task: {"learn": [...], "test": [...]}}``.

    Verification and forward simulation balance model-correct and model-wrong items (half and half where
    the stimuli allow), since a study where the model is always right cannot tell trust from agreement.
    Rate and distinction balance true classes.
    """
    selection: dict[str, dict[str, list[str]]] = {}
    for task in study.tasks:
        rng = random.Random(f"{study.seed}:{task.name}")
        ids = [s.image_id for s in task.stimuli]
        preds = predictions[task.name].by_image
        if task.decision is not None:  # each participant's trials are drawn from this pool (study.decision)
            wrong, right = decision.eligible(task, predictions[task.name])
            selection[task.name] = {"learn": [], "test": sorted(wrong + right)}
            continue
        if task.protocol in (VERIFICATION, FORWARD_SIMULATION):
            key = {i: preds[i].correct for i in ids}
        else:
            key = {s.image_id: s.label for s in task.stimuli}
        learn = _balanced_by(ids, key, task.learning_trials, rng) if task.learning_trials else []
        rest = [i for i in ids if i not in set(learn)]
        selection[task.name] = {"learn": learn, "test": _balanced_by(rest, key, task.trials, rng)}
    return selection


@lru_cache(maxsize=256)
def _explainer(name: str, params_json: str):
    return get_method(name, **json.loads(params_json))


def map_cache_key(preds: TaskPredictions, image_sha256: str, method: MethodConfig, target_index: int) -> str | None:
    """The attribution-cache key the map will be served from: the same key the map service computes from
    the loaded checkpoint (the weight-randomised control's hash carries its suffix). ``None`` without a card."""
    if not preds.card:
        return None
    sha = preds.checkpoint_sha256 + (RANDOMIZED_SUFFIX if method.randomized_model else "")
    explainer = _explainer(method.name, json.dumps(dict(method.params), sort_keys=True))
    return explanation_key(sha, preds.card, image_sha256, explainer, target_index)


def _planned_maps(study: Study, task: TaskConfig, preds: TaskPredictions, stim: Stimulus, keys: Sequence[str],
                  targets: Sequence[str | None] = (None,)) -> tuple[PlannedMap, ...]:
    predicted = preds.by_image[stim.image_id].label
    maps = []
    for key in keys:
        if key == NO_EXPLANATION:
            continue
        m = study.method(key)
        for target in targets:
            index = _class_index(task, preds, target or predicted)
            maps.append(PlannedMap(key=m.key, name=m.name, label=m.label, params=dict(m.params),
                                   randomized_model=m.randomized_model, target=target, target_index=index,
                                   cache_key=None if index is None else map_cache_key(preds, stim.sha256, m, index)))
    return tuple(maps)


def _placebo_map(study: Study, task: TaskConfig, preds: TaskPredictions, stim: Stimulus,
                 other: Stimulus | None) -> tuple[PlannedMap, ...]:
    """The placebo arm's map (:mod:`study_app.study.placebo`), keyed ``placebo`` and labelled as its method,
    explaining the class the trial's advice names (the model's prediction on ``stim``) and drawn over ``stim``:
    the method on the weight-randomised model (source ``randomized_model``), or the method's map of ``other``,
    another stimulus, for that class (``other_image``; its image is the map's own)."""
    m = study.method(task.decision.placebo_method)
    if task.decision.placebo_source == PLACEBO_RANDOMIZED:
        m, source = replace(m, randomized_model=True), stim
    elif other is None or other.image_id == stim.image_id:
        raise ValueError(f"task {task.name}: the placebo of {stim.image_id} needs another stimulus's map")
    else:
        source = other
    index = _class_index(task, preds, preds.by_image[stim.image_id].label)
    own = source is stim
    return (PlannedMap(key=ARM_PLACEBO, name=m.name, label=m.label, params=dict(m.params),
                       randomized_model=m.randomized_model, target_index=index,
                       cache_key=None if index is None else map_cache_key(preds, source.sha256, m, index),
                       image_id=None if own else source.image_id, image_path=None if own else source.path,
                       image_sha256=None if own else source.sha256),)


def _class_index(task: TaskConfig, preds: TaskPredictions, label: str) -> int | None:
    names = preds.class_names or task.class_names
    return list(names).index(label) if label in names else None


def _arms_for_task(study: Study, task: TaskConfig, condition: int, position: int) -> list[str]:
    """Arm keys shown on the item at ``position``: all (rotated) for side-by-side, else one."""
    arms = study.arms
    if study.design.type == "between":
        return [arms[condition % len(arms)]]
    if task.protocol == RATE and task.display == "side_by_side":
        return [arms[(condition + j) % len(arms)] for j in range(len(arms))]
    return [latin_square_arm(arms, condition, position)]


def _model_view(pred) -> ModelView:
    return ModelView(label=pred.label, prob=pred.prob, topk=tuple(pred.topk), correct=pred.correct)


def _task_trials(study: Study, task: TaskConfig, items: dict[str, list[str]], preds: TaskPredictions,
                 condition: int, rng: random.Random) -> list[list[TrialStep]]:
    """Trials of one task, each a list of its phase steps, in this participant's order (``trial`` is set
    by :func:`build_plan` once all tasks are ordered)."""
    stim = {s.image_id: s for s in task.stimuli}
    positions = {image_id: j for j, image_id in enumerate(items["learn"] + items["test"])}

    def step(image_id: str, arms: list[str], group: str, phase: str, prediction: ModelView | None,
             maps: tuple[PlannedMap, ...] = (), options: tuple[str, ...] = ()) -> TrialStep:
        s, model = stim[image_id], _model_view(preds.by_image[image_id])
        return TrialStep(
            trial=-1, phase=phase, group=group, task=task.name, protocol=task.protocol, image_id=image_id,
            image_path=s.path, image_sha256=s.sha256, checkpoint=task.checkpoint,
            checkpoint_sha256=preds.checkpoint_sha256, true_label=s.label, model=model, prediction=prediction,
            target_index=_class_index(task, preds, model.label), target_label=model.label, arms=tuple(arms),
            maps=maps, options=options, show_true_label=task.show_true_label, clinical_notice=task.clinical_notice,
            scale=(task.scale[0], task.scale[1]),
        )

    def phases(image_id: str, group: str, arms: list[str]) -> list[TrialStep]:
        model = _model_view(preds.by_image[image_id])
        maps = _planned_maps(study, task, preds, stim[image_id], arms)
        if task.protocol == RATE:
            steps = [step(image_id, arms, group, PHASE_TRUST, model.trimmed(3))]
            if maps:
                steps.append(step(image_id, arms, group, PHASE_EXPLANATION, model.trimmed(3), maps))
            return steps
        if task.protocol == VERIFICATION:
            return [step(image_id, arms, group, PHASE_MAIN, model.trimmed(1), maps)]
        if task.protocol == FORWARD_SIMULATION:
            if group == "learn":
                return [step(image_id, arms, group, PHASE_LEARN, model.trimmed(1), maps)]
            return [step(image_id, arms, group, PHASE_PREDICT, None, options=tuple(task.class_names))]
        # distinction: the model's top-k classes, one map each, in a participant-specific order
        options = [label for label, _ in model.topk[: task.k]]
        rng.shuffle(options)
        return [step(image_id, arms, group, PHASE_MAIN, None,
                     _planned_maps(study, task, preds, stim[image_id], arms, options), tuple(options))]

    def decision_phases(drawn: decision.DrawnTrial) -> list[TrialStep]:
        """Two-step: own answer, then the arm's advice and the final answer; one-step and the human arm
        (nothing to react to): the final answer only."""
        cfg, arm, image_id = task.decision, drawn.arm, drawn.image_id
        placebo = arm == ARM_PLACEBO
        advice = Advice(arm=arm, variant=cfg.variant, on_request=cfg.advice_on_request and arm != ARM_HUMAN,
                        placebo_source=cfg.placebo_source if placebo else None,
                        placebo_method=cfg.placebo_method if placebo else None, placebo_image_id=drawn.placebo_image_id)
        if placebo:
            maps = _placebo_map(study, task, preds, stim[image_id], stim.get(drawn.placebo_image_id or ""))
        else:
            maps = () if arm in (ARM_HUMAN, ARM_AI) else _planned_maps(study, task, preds, stim[image_id], [arm])
        prediction = None if arm == ARM_HUMAN else _model_view(preds.by_image[image_id]).trimmed(1)
        options = tuple(preds.class_names or task.class_names)
        final = replace(step(image_id, [arm], "test", PHASE_FINAL, prediction, maps, options), advice=advice)
        if not asks_first(arm, cfg.variant):
            return [final]
        return [replace(step(image_id, [arm], "test", PHASE_INITIAL, None, (), options), advice=advice), final]

    if task.decision is not None:
        learn: list[list[TrialStep]] = []
        test = [decision_phases(d) for d in decision.draw_trials(task, preds, condition, rng=rng,
                                                                 within=study.design.type == "within")]
    else:
        learn = [phases(i, "learn", _arms_for_task(study, task, condition, positions[i])) for i in items["learn"]]
        test = [phases(i, "test", _arms_for_task(study, task, condition, positions[i])) for i in items["test"]]
        rng.shuffle(learn)
        rng.shuffle(test)
    t = translator(study.language)  # attention prompts are stored with the plan, in the study's language
    for _ in range(task.attention_checks):
        image_id = rng.choice(sorted(stim))
        if task.decision is not None:  # no advice to weigh: the human arm's single answer
            check = decision_phases(decision.DrawnTrial(image_id, ARM_HUMAN))[0]
        else:
            arms = _arms_for_task(study, task, condition, rng.randrange(len(study.arms)))
            check = phases(image_id, "test", arms)[0]  # one phase: the one with the answer
        if task.protocol == RATE:
            expected = {"trust": task.scale[1]}
            prompt = t.gettext("Attention check: please choose {value} on the scale.").format(value=task.scale[1])
        elif task.protocol == VERIFICATION:
            verdict = rng.choice(VERIFICATION_DECISIONS)
            expected = {"decision": verdict}
            # TRANSLATORS: {label} is the answer as its radio button reads it (e.g. "Yes, the prediction is correct").
            prompt = t.gettext("Attention check: please choose “{label}” whatever the image shows.").format(
                label=t.gettext(DECISION_LABELS[verdict]))
        else:
            choice = rng.choice(check.options)
            expected = {PHASE_FINAL if task.decision is not None else "choice": choice}
            # TRANSLATORS: {choice} is the class as its radio button reads it (the study file's class_labels).
            prompt = t.gettext("Attention check: please choose “{choice}”.").format(
                choice=task.class_label(choice))
        check = replace(check, is_attention_check=True, expected=expected, attention_prompt=prompt)
        test.insert(rng.randrange(1, len(test) + 1), [check])
    return learn + test


def rate_post_questions(study: Study, arms_seen: Sequence[str]) -> list[Question]:
    """The seed study's closing questions: rank the methods seen (if more than one) and trust in each, in
    the study's language."""
    _ = translator(study.language).gettext
    seen = set(arms_seen)
    methods = [m for m in study.methods if m.key in seen]  # file order, whatever order they were shown in
    questions = []
    if len(methods) > 1:
        questions.append(Question(id="method_rank", text=_("Rank the explanations from most to least useful."),
                                  kind="rank", options=tuple(m.label for m in methods)))
    for m in methods:
        questions.append(Question(id=f"trust_{m.key}",
                                  text=_("How much do you trust explanations by {label}?").format(label=m.label),
                                  kind="likert", low=1, high=7, options=(_("not at all"), _("completely"))))
    return questions


def build_plan(study: Study, items: Mapping[str, dict[str, list[str]]], predictions: Mapping[str, TaskPredictions],
               condition: int, seed: int) -> Plan:
    """A participant's full sequence, stored with them so progress survives restarts.

    Pure: the same study, items, condition and seed give the same plan.
    """
    rng = random.Random(seed)
    trials: list[list[TrialStep]] = []
    for task in study.tasks:
        trials.extend(_task_trials(study, task, items[task.name], predictions[task.name], condition, rng))
    steps = tuple(replace(phase_step, trial=n) for n, trial in enumerate(trials) for phase_step in trial)
    arms_seen = [a for t in trials for s in t for a in s.arms]
    post = list(study.post_questionnaire)
    if any(t.protocol == RATE for t in study.tasks):
        existing = {q.id for q in post}
        post += [q for q in rate_post_questions(study, arms_seen) if q.id not in existing]
    return Plan(condition=condition, condition_label=condition_labels(study)[condition], seed=seed,
                n_trials=len(trials), trial_steps=steps, post_questions=tuple(post),
                class_labels={t.name: dict(t.class_labels) for t in study.tasks if t.class_labels})
