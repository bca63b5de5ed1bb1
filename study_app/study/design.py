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

import random
from collections.abc import Mapping, Sequence
from dataclasses import asdict

from study_app.study.predictions import TaskPredictions
from study_app.study.schema import Study, TaskConfig
from study_app.study.steps import (
    DISTINCTION,
    FORWARD_SIMULATION,
    NO_EXPLANATION,
    PHASE_EXPLANATION,
    PHASE_LEARN,
    PHASE_MAIN,
    PHASE_PREDICT,
    PHASE_TRUST,
    RATE,
    VERIFICATION,
    VERIFICATION_DECISIONS,
    Question,
)

PLAN_VERSION = 1

PROMPTS = {
    (RATE, PHASE_TRUST): "How much do you trust this prediction?",
    (RATE, PHASE_EXPLANATION): "For each explanation: did it help or hurt your understanding of the prediction?",
    (VERIFICATION, PHASE_MAIN): "Is the model's prediction correct? Accept or reject it, and say how confident you are.",
    (FORWARD_SIMULATION, PHASE_LEARN): "Study the model's prediction and its explanation.",
    (FORWARD_SIMULATION, PHASE_PREDICT): "What will the model predict for this image?",
    (DISTINCTION, PHASE_MAIN): "Each map explains one candidate class. Which class did the model predict?",
}


def latin_square_arm(arms: Sequence[str], row: int, item_position: int) -> str:
    """Arm shown on the item at ``item_position`` to a participant in Latin-square ``row``.

    A cyclic Latin square: over any ``len(arms)`` consecutive rows every item meets every arm exactly once,
    and within a row every arm covers the same number of items (to within one).
    """
    return arms[(item_position + row) % len(arms)]


def condition_labels(study: Study) -> tuple[str, ...]:
    """One label per condition. Within: Latin-square rows; between: one per arm (method or ``none``)."""
    if study.design.type == "within":
        return tuple(f"latin-{r}" for r in range(len(study.arms)))
    return tuple(study.arms)


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
        if task.protocol in (VERIFICATION, FORWARD_SIMULATION):
            key = {i: preds[i].correct for i in ids}
        else:
            key = {s.image_id: s.label for s in task.stimuli}
        learn = _balanced_by(ids, key, task.learning_trials, rng) if task.learning_trials else []
        rest = [i for i in ids if i not in set(learn)]
        selection[task.name] = {"learn": learn, "test": _balanced_by(rest, key, task.trials, rng)}
    return selection


def _shown_methods(study: Study, keys: Sequence[str], targets: Sequence[str | None] = (None,)) -> list[dict]:
    shown = []
    for key in keys:
        if key == NO_EXPLANATION:
            continue
        m = study.method(key)
        for target in targets:
            shown.append(asdict(m.shown(target)))
    return shown


def _arms_for_task(study: Study, task: TaskConfig, condition: int, position: int) -> list[str]:
    """Arm keys shown on the item at ``position``: all (rotated) for side-by-side, else one."""
    arms = study.arms
    if study.design.type == "between":
        return [arms[condition]]
    if task.protocol == RATE and task.display == "side_by_side":
        return [arms[(condition + j) % len(arms)] for j in range(len(arms))]
    return [latin_square_arm(arms, condition, position)]


def _prediction_dict(pred) -> dict:
    return {"label": pred.label, "prob": pred.prob, "topk": [list(t) for t in pred.topk], "correct": pred.correct}


def _task_trials(study: Study, task: TaskConfig, items: dict[str, list[str]], preds: TaskPredictions,
                 condition: int, rng: random.Random) -> list[list[dict]]:
    """Trials of one task, each a list of its phase steps (dicts), in this participant's order."""
    stim = {s.image_id: s for s in task.stimuli}
    positions = {image_id: j for j, image_id in enumerate(items["learn"] + items["test"])}

    def base(image_id: str, arms: list[str], phase_kind: str) -> dict:
        s = stim[image_id]
        return {
            "task": task.name, "protocol": task.protocol, "image_id": image_id, "image_path": s.path,
            "image_sha256": s.sha256, "checkpoint": task.checkpoint, "checkpoint_sha256": preds.checkpoint_sha256,
            "true_label": s.label, "model": _prediction_dict(preds.by_image[image_id]), "arms": arms,
            "show_true_label": task.show_true_label, "clinical_notice": task.clinical_notice,
            "scale": list(task.scale), "is_attention_check": False,
            "attention_prompt": "", "expected": {}, "group": phase_kind,
        }

    def phases(image_id: str, group: str, arms: list[str]) -> list[dict]:
        b = base(image_id, arms, group)
        pred = preds.by_image[image_id]
        model = b["model"]
        if task.protocol == RATE:
            shown_pred = dict(model, topk=model["topk"][:3])
            steps = [dict(b, phase=PHASE_TRUST, prediction=shown_pred, methods=[], options=[])]
            methods = _shown_methods(study, arms)
            if methods:
                steps.append(dict(b, phase=PHASE_EXPLANATION, prediction=shown_pred, methods=methods, options=[]))
            return steps
        if task.protocol == VERIFICATION:
            shown_pred = dict(model, topk=model["topk"][:1])
            return [dict(b, phase=PHASE_MAIN, prediction=shown_pred, methods=_shown_methods(study, arms), options=[])]
        if task.protocol == FORWARD_SIMULATION:
            if group == "learn":
                return [dict(b, phase=PHASE_LEARN, prediction=dict(model, topk=model["topk"][:1]),
                             methods=_shown_methods(study, arms), options=[])]
            return [dict(b, phase=PHASE_PREDICT, prediction=None, methods=[], options=list(task.class_names))]
        # distinction: the model's top-k classes, one map each, in a participant-specific order
        options = [label for label, _ in pred.topk[: task.k]]
        rng.shuffle(options)
        return [dict(b, phase=PHASE_MAIN, prediction=None, methods=_shown_methods(study, arms, options),
                     options=options)]

    learn = [phases(i, "learn", _arms_for_task(study, task, condition, positions[i])) for i in items["learn"]]
    test = [phases(i, "test", _arms_for_task(study, task, condition, positions[i])) for i in items["test"]]
    rng.shuffle(learn)
    rng.shuffle(test)
    for _ in range(task.attention_checks):
        image_id = rng.choice(sorted(stim))
        arms = _arms_for_task(study, task, condition, rng.randrange(len(study.arms)))
        check = phases(image_id, "test", arms)[:1]  # one phase: the one with the answer
        step = check[0]
        step["is_attention_check"] = True
        if task.protocol == RATE:
            step["expected"] = {"trust": task.scale[1]}
            step["attention_prompt"] = f"Attention check: please choose {task.scale[1]} on the scale."
        elif task.protocol == VERIFICATION:
            decision = rng.choice(VERIFICATION_DECISIONS)
            step["expected"] = {"decision": decision}
            step["attention_prompt"] = f"Attention check: please choose '{decision}' whatever the image shows."
        else:
            choice = rng.choice(step["options"])
            step["expected"] = {"choice": choice}
            step["attention_prompt"] = f"Attention check: please choose '{choice}'."
        test.insert(rng.randrange(1, len(test) + 1), check)
    return learn + test


def rate_post_questions(study: Study, arms_seen: Sequence[str]) -> list[Question]:
    """The seed study's closing questions: rank the methods seen (if more than one) and trust in each."""
    seen = set(arms_seen)
    methods = [m for m in study.methods if m.key in seen]  # file order, whatever order they were shown in
    questions = []
    if len(methods) > 1:
        questions.append(Question(id="method_rank", text="Rank the explanations from most to least useful.",
                                  kind="rank", options=tuple(m.label for m in methods)))
    for m in methods:
        questions.append(Question(id=f"trust_{m.key}", text=f"How much do you trust explanations by {m.label}?",
                                  kind="likert", low=1, high=7, options=("not at all", "completely")))
    return questions


def build_plan(study: Study, items: Mapping[str, dict[str, list[str]]], predictions: Mapping[str, TaskPredictions],
               condition: int, seed: int) -> dict:
    """A participant's full sequence as JSON-safe data, stored with them so progress survives restarts.

    Pure: the same study, items, condition and seed give the same plan.
    """
    rng = random.Random(seed)
    trials: list[list[dict]] = []
    for task in study.tasks:
        trials.extend(_task_trials(study, task, items[task.name], predictions[task.name], condition, rng))
    steps = []
    for n, trial in enumerate(trials):
        for phase_step in trial:
            steps.append(dict(phase_step, trial=n))
    arms_seen = [a for t in trials for s in t for a in s["arms"]]
    post = list(study.post_questionnaire)
    if any(t.protocol == RATE for t in study.tasks):
        existing = {q.id for q in post}
        post += [q for q in rate_post_questions(study, arms_seen) if q.id not in existing]
    return {
        "version": PLAN_VERSION,
        "condition": condition,
        "condition_label": condition_labels(study)[condition],
        "seed": seed,
        "n_trials": len(trials),
        "trial_steps": steps,
        "post_questions": [asdict(q) for q in post],
    }
