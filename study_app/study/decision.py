"""The ``decision`` protocol's design: its study-file fields, its arms, and each participant's trials.

A decision trial asks for the participant's own answer, shows the AI's advice as the participant's arm shows
it, and asks again (Bansal et al. 2021, Buçinca et al. 2021, Schemmer et al. 2023). Reliance can only be
measured where the AI is sometimes wrong, and a good model rarely is, so trials are **drawn by the model's
correctness**: each participant gets exactly ``n_wrong = round(ai_wrong_share × trials)`` trials on which the
AI is wrong and the rest on which it is right, all from advice at least ``min_ai_confidence`` confident, drawn
from the task's stimuli with the participant's own seed. Within subjects the arms rotate over the wrong and
the right trials separately (starting at the participant's Latin-square row), so every arm gets the same
number of AI-wrong trials to within one, and over consecutive rows exactly the same; between subjects every
trial of a participant has the condition's arm. Conditions are assigned by
:func:`study_app.study.design.assign_condition` (least-filled, counting only active or finished participants),
so drop-outs never unbalance the arms.

Whether the stimuli can satisfy a task is a fact about the model's predictions, so it is checked where they
exist: :func:`pool_verdicts` (``xai-study check``) and :func:`require_pools` (the engine refuses to start).
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from study_app.study.errors import StudyFileError
from study_app.study.placebo import choose_source, require_placebos
from study_app.study.predictions import TaskPredictions
from study_app.study.schema import DecisionConfig, Study, TaskConfig
from study_app.study.steps import (
    ARM_PLACEBO,
    DECISION_ARMS,
    DECISION_VARIANTS,
    PLACEBO_OTHER_IMAGE,
    PLACEBO_RANDOMIZED,
    PLACEBO_SHUFFLED,
    PLACEBO_SOURCES,
    TWO_STEP,
)

IMAGE_INDEPENDENT = ("concepts", "prediction_grid")  # panels showing the same for every image of a class

DECISION_KEYS = ("arms", "placebo", "variant", "advice_on_request", "ai_wrong_share", "min_ai_confidence")


def parse_decision(f, trials: int = 0) -> DecisionConfig:
    """The decision fields of one ``[[tasks]]`` table (``f``: the parser's field reader; other protocols' tasks
    may not set them: the parser refuses them, :attr:`Protocol.fields`). A share that rounds away (no AI-wrong trial although the share is
    above 0, or none right although it is below 1) is refused here; whether the stimuli hold enough images
    of each kind needs the model's predictions (:func:`require_pools`). Method keys are checked by
    :func:`check_decision_arms`."""
    arms = f.get("arms", list)
    if not arms or not all(isinstance(a, str) and a.strip() for a in arms):
        raise f.error("arms", "must be a non-empty list of arm names (human, ai, placebo or method keys)")
    if len(set(arms)) != len(arms):
        raise f.error("arms", "contains duplicates")
    share = f.get("ai_wrong_share", (int, float), what="a number from 0 to 1")
    if not 0 <= share <= 1:
        raise f.error("ai_wrong_share", f"must be from 0 to 1, got {share}")
    n_wrong = int(round(share * trials))
    if trials and ((share > 0 and n_wrong == 0) or (share < 1 and n_wrong == trials)):
        raise f.error("ai_wrong_share", f"{share} of {trials} trials rounds to {n_wrong} with the AI wrong; "
                                        "change ai_wrong_share or trials")
    confidence = f.get("min_ai_confidence", (int, float), 0.0, what="a number from 0 to 1")
    if not 0 <= confidence <= 1:
        raise f.error("min_ai_confidence", f"must be from 0 to 1, got {confidence}")
    variant = f.text("variant", TWO_STEP)
    if variant not in DECISION_VARIANTS:
        raise f.error("variant", f"{variant!r} is not one of {', '.join(DECISION_VARIANTS)}")
    on_request = f.get("advice_on_request", bool, False)
    placebo = f.get("placebo", dict, None)
    method = source = None
    if placebo is not None:
        method, source = placebo.get("method"), placebo.get("source")
        extra = sorted(set(placebo) - {"method", "source"})
        if extra or not isinstance(method, str) or source not in PLACEBO_SOURCES:
            raise f.error("placebo", "must be { method = \"<method key>\", source = "
                                     + " or ".join(f"\"{s}\"" for s in PLACEBO_SOURCES) + " }")
    if (ARM_PLACEBO in arms) != (placebo is not None):
        raise f.error("placebo", "is required with a placebo arm, and only then" if ARM_PLACEBO in arms
                      else "is set but arms has no 'placebo'")
    return DecisionConfig(arms=tuple(arms), ai_wrong_share=float(share), min_ai_confidence=float(confidence),
                          variant=variant, advice_on_request=on_request, placebo_method=method,
                          placebo_source=source)


def check_placebo_kinds(source: str, tasks: Sequence[TaskConfig], methods: Sequence) -> None:
    """A placebo looks like its method's real output: ``shuffled`` needs a ``concepts`` method (its scores are
    what is shuffled), and ``other_image`` a kind whose output depends on the shown image (a map or similar
    examples; a concepts panel or prediction grid of another image is the real one)."""
    kinds = {m.key: m.name for m in methods}
    for i, task in enumerate(tasks):
        cfg = task.decision
        if cfg is None or cfg.placebo_method not in kinds:
            continue
        kind = kinds[cfg.placebo_method]
        if cfg.placebo_source == PLACEBO_SHUFFLED and kind != "concepts":
            raise StudyFileError(source, f"tasks[{i}].placebo.source", f"\"{PLACEBO_SHUFFLED}\" shuffles a concepts "
                                 f"panel's scores, but {cfg.placebo_method!r} is {kind}; use \"{PLACEBO_RANDOMIZED}\" "
                                 f"or \"{PLACEBO_OTHER_IMAGE}\"")
        if cfg.placebo_source == PLACEBO_OTHER_IMAGE and kind in IMAGE_INDEPENDENT:
            raise StudyFileError(source, f"tasks[{i}].placebo.source", f"{kind} shows the same for every image of a "
                                 f"class, so another image's is the real one; use \"{PLACEBO_RANDOMIZED}\""
                                 + (f" or \"{PLACEBO_SHUFFLED}\"" if kind == "concepts" else ""))


def check_decision_arms(source: str, tasks: Sequence[TaskConfig], method_keys: Sequence[str]) -> None:
    """Every arm is human, ai, placebo or a method key; a placebo names a method; no method is called like
    a built-in arm (the export could not tell them apart)."""
    clash = sorted(set(method_keys) & set(DECISION_ARMS))
    for i, task in enumerate(tasks):
        if task.decision is None:
            continue
        if clash:
            raise StudyFileError(source, f"tasks[{i}].arms", f"method key {clash[0]!r} is also a decision arm; "
                                                             "give the method another key")
        for arm in task.decision.arms:
            if arm not in DECISION_ARMS and arm not in method_keys:
                raise StudyFileError(source, f"tasks[{i}].arms", f"{arm!r} is not human, ai, placebo or a method "
                                                                 f"key ({', '.join(method_keys)})")
        if task.decision.placebo_method is not None and task.decision.placebo_method not in method_keys:
            raise StudyFileError(source, f"tasks[{i}].placebo.method", f"{task.decision.placebo_method!r} is not "
                                                                       f"a method key ({', '.join(method_keys)})")


def arm_sets(study: Study) -> list[tuple[str, ...]]:
    """The arm lists that conditions must balance: the method arms of the tasks without their own (every
    distinct list, in task order; one list unless tasks name their ``methods``), then each decision task's arms."""
    sets: list[tuple[str, ...]] = []
    ordered = [t for t in study.tasks if t.decision is None] + [t for t in study.tasks if t.decision is not None]
    for task in ordered:
        arms = study.task_arms(task)
        if arms not in sets:
            sets.append(arms)
    return sets


def n_conditions(study: Study) -> int:
    """The least common multiple of the arm lists' lengths: every list is balanced over that many rows."""
    return math.lcm(*(len(s) for s in arm_sets(study)))


def eligible(task: TaskConfig, preds: TaskPredictions) -> tuple[list[str], list[str]]:
    """``(AI-wrong ids, AI-right ids)`` among the task's stimuli whose advice is confident enough."""
    floor = task.decision.min_ai_confidence
    ids = [s.image_id for s in task.stimuli if preds.by_image[s.image_id].prob >= floor]
    return ([i for i in ids if not preds.by_image[i].correct], [i for i in ids if preds.by_image[i].correct])


@dataclass(frozen=True)
class PoolVerdict:
    """Whether a decision task's stimuli hold enough AI-wrong and AI-right images above the confidence floor."""

    task: str
    field: str
    trials: int
    min_ai_confidence: float
    need_wrong: int
    need_right: int
    have_wrong: int
    have_right: int

    @property
    def ok(self) -> bool:
        return self.have_wrong >= self.need_wrong and self.have_right >= self.need_right

    def describe(self) -> str:
        share = self.need_wrong / self.trials
        return (f"task {self.task}: {self.trials} trials per participant, {self.need_wrong} with the AI wrong "
                f"(share {share:.2f}) and {self.need_right} with it right; stimuli with advice at least "
                f"{self.min_ai_confidence:.2f} confident: {self.have_wrong} AI-wrong and {self.have_right} AI-right")


def pool_verdicts(study: Study, predictions: Mapping[str, TaskPredictions]) -> list[PoolVerdict]:
    out = []
    for i, task in enumerate(study.tasks):
        if task.decision is None:
            continue
        wrong, right = eligible(task, predictions[task.name])
        n_wrong = task.decision.n_wrong(task.trials)
        out.append(PoolVerdict(task=task.name, field=f"tasks[{i}].ai_wrong_share", trials=task.trials,
                               min_ai_confidence=task.decision.min_ai_confidence, need_wrong=n_wrong,
                               need_right=task.trials - n_wrong, have_wrong=len(wrong), have_right=len(right)))
    return out


def require_pools(study: Study, predictions: Mapping[str, TaskPredictions]) -> None:
    """Raises :class:`StudyFileError` naming the task's ``ai_wrong_share`` when its stimuli cannot satisfy it,
    or its ``placebo`` when they cannot supply the placebo (:func:`study_app.study.placebo.placebo_problems`)."""
    require_placebos(study)
    for verdict in pool_verdicts(study, predictions):
        if not verdict.ok:
            raise StudyFileError(study.source, verdict.field, "the stimuli cannot satisfy this design: "
                                 f"{verdict.describe()}. Add stimuli, lower min_ai_confidence, or change "
                                 "ai_wrong_share or trials")


@dataclass(frozen=True)
class DrawnTrial:
    image_id: str
    arm: str
    placebo_image_id: str | None = None  # the other image whose map the placebo shows (source other_image)


def draw_trials(task: TaskConfig, preds: TaskPredictions, condition: int, *, within: bool,
                rng: random.Random) -> list[DrawnTrial]:
    """One participant's decision trials, in their order (see the module docstring)."""
    cfg = task.decision
    wrong, right = eligible(task, preds)
    n_wrong = cfg.n_wrong(task.trials)
    picks = [*rng.sample(wrong, n_wrong), *rng.sample(right, task.trials - n_wrong)]
    arms, k = cfg.arms, len(cfg.arms)
    if within:  # wrong trials take arms row, row+1, ...; the right trials continue the cycle
        chosen = [arms[(condition + j) % k] for j in range(len(picks))]
    else:
        chosen = [arms[condition % k]] * len(picks)
    trials = []
    for image_id, arm in zip(picks, chosen, strict=True):
        other = None
        if arm == ARM_PLACEBO and cfg.placebo_source == PLACEBO_OTHER_IMAGE:  # never the shown image itself
            other = choose_source(task, preds, image_id, rng)
        trials.append(DrawnTrial(image_id, arm, other))
    rng.shuffle(trials)
    return trials
