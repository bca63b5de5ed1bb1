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
from collections.abc import Mapping
from dataclasses import replace

from study_app.i18n import translator
from study_app.study import decision
from study_app.study.arm_blocks import block_by_arm
from study_app.study.plan import Plan, TrialStep
from study_app.study.predictions import TaskPredictions
from study_app.study.protocols import protocol_of
from study_app.study.protocols.base import TrialContext
from study_app.study.schema import Study, TaskConfig


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


def select_items(study: Study, predictions: Mapping[str, TaskPredictions]) -> dict[str, dict[str, list[str]]]:
    """Images each task uses, the same for every participant: ``{task: {"learn": [...], "test": [...]}}``.

    Verification and forward simulation balance model-correct and model-wrong items (half and half where
    the stimuli allow), since a study where the model is always right cannot tell trust from agreement.
    Rate and distinction balance true classes.
    """
    selection: dict[str, dict[str, list[str]]] = {}
    for task in study.tasks:
        rng = random.Random(f"{study.seed}:{task.name}")
        selection[task.name] = protocol_of(task.protocol).select_items(task, predictions[task.name], rng)
    return selection


def _task_trials(study: Study, task: TaskConfig, items: Mapping[str, list[str]], preds: TaskPredictions,
                 condition: int, rng: random.Random) -> list[list[TrialStep]]:
    """Trials of one task, each a list of its phase steps, in this participant's order, with the task's attention
    checks inserted at random places (``trial`` is set by :func:`build_plan` once all tasks are ordered)."""
    protocol = protocol_of(task.protocol)
    ctx = TrialContext(study, task, items, preds, condition, rng, translator(study.language))
    trials = protocol.trials(ctx)
    learn = [t for t in trials if t[0].group == "learn"]
    test = [t for t in trials if t[0].group != "learn"]
    for _ in range(task.attention_checks):
        check = protocol.check_trial(ctx, rng.choice(sorted(ctx.stim)))
        expected, prompt = protocol.attention(ctx, check)
        check = replace(check, is_attention_check=True, expected=expected, attention_prompt=prompt)
        test.insert(rng.randrange(1, len(test) + 1), [check])
    return learn + test


def build_plan(study: Study, items: Mapping[str, dict[str, list[str]]], predictions: Mapping[str, TaskPredictions],
               condition: int, seed: int) -> Plan:
    """A participant's full sequence, stored with them so progress survives restarts.

    Pure: the same study, items, condition and seed give the same plan. A within-subjects study with per-arm
    questions has its trials blocked by arm, the block order rotated by the condition
    (:mod:`study_app.study.arm_blocks`).
    """
    rng = random.Random(seed)
    trials: list[list[TrialStep]] = []
    for task in study.tasks:
        trials.extend(_task_trials(study, task, items[task.name], predictions[task.name], condition, rng))
    if study.arm_questionnaire and study.design.type == "within":  # per-arm questions: one block per arm
        arms = decision.arm_sets(study)[0]
        trials = block_by_arm(trials, [arms[(condition + j) % len(arms)] for j in range(len(arms))])
    steps = tuple(replace(phase_step, trial=n) for n, trial in enumerate(trials) for phase_step in trial)
    post = list(study.post_questionnaire)
    for protocol in dict.fromkeys(protocol_of(t.protocol) for t in study.tasks):
        existing = {q.id for q in post}
        arms_seen = [a for t in trials for s in t for a in s.arms if s.protocol == protocol.name]  # in its tasks
        post += [q for q in protocol.post_questions(study, arms_seen) if q.id not in existing]
    return Plan(condition=condition, condition_label=condition_labels(study)[condition], seed=seed,
                n_trials=len(trials), trial_steps=steps, post_questions=tuple(post),
                class_labels={t.name: dict(t.class_labels) for t in study.tasks if t.class_labels})
