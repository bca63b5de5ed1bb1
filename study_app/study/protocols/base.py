"""The contract every protocol fulfils, and what its trials are built from.

A protocol is one module of this package with one :class:`Protocol` subclass, listed in
:data:`study_app.study.protocols.PROTOCOLS`. Everything that differs between protocols lives there: the task
fields it takes, what each phase shows and asks, how answers are checked and scored, which maps it needs, which
answers name classes (the export's ``*_display`` columns) and which models the analysis fits. The rest of the
code asks the protocol (``protocol_of(task.protocol)``) instead of comparing protocol names.

:class:`TrialContext` is what a protocol builds its trials from: one task's stimuli, predictions and arms for one
participant, and the helpers that turn an image, an arm list and a phase into a plan :class:`TrialStep`.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

from study_app.explain.methods import get_method
from study_app.explain.panels import is_panel, panel_key
from study_app.explain.sanity import RANDOMIZED_SUFFIX
from study_app.explain.service import explanation_key
from study_app.study.answer_checks import int_in, no_extra, show
from study_app.study.errors import AnswerError
from study_app.study.plan import ModelOutput, PlannedMap, TrialStep
from study_app.study.predictions import TaskPredictions, model_class_names
from study_app.study.schema import MethodConfig, Stimulus, Study, TaskConfig
from study_app.study.steps import NO_EXPLANATION, PHASE_LEARN, Question


def latin_square_arm(arms: Sequence[str], row: int, item_position: int) -> str:
    """Arm shown on the item at ``item_position`` to a participant in Latin-square ``row``.

    A cyclic Latin square: over any ``len(arms)`` consecutive rows every item meets every arm exactly once,
    and within a row every arm covers the same number of items (to within one).
    """
    return arms[(item_position + row) % len(arms)]


def balanced_by(items: list[str], key: Mapping[str, object], n: int, rng: random.Random) -> list[str]:
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


@lru_cache(maxsize=256)
def _explainer(name: str, params_json: str):  # a map method's (panels have no explainer object)
    return get_method(name, **json.loads(params_json))


def map_cache_key(preds: TaskPredictions, image_sha256: str, method: MethodConfig, target_index: int,
                  per_class: bool = False) -> str | None:
    """The attribution-cache key the map will be served from: the same key the map service computes from
    the loaded checkpoint (the weight-randomised control's hash carries its suffix). ``None`` without a card.
    A panel (similar examples, ...) restricted to a candidate class (``per_class``) has its own key."""
    if not preds.card:
        return None
    sha = preds.checkpoint_sha256 + (RANDOMIZED_SUFFIX if method.randomized_model else "")
    if is_panel(method.name):
        return panel_key(sha, preds.card, image_sha256, method.name, dict(method.params), target_index, per_class)
    explainer = _explainer(method.name, json.dumps(dict(method.params), sort_keys=True))
    return explanation_key(sha, preds.card, image_sha256, explainer, target_index)


def class_index(task: TaskConfig, preds: TaskPredictions, label: str) -> int | None:
    names = model_class_names(task, preds)
    return list(names).index(label) if label in names else None


@dataclass
class TrialContext:
    """One task's material for one participant: what a protocol builds that participant's trials from."""

    study: Study
    task: TaskConfig
    items: Mapping[str, list[str]]
    preds: TaskPredictions
    condition: int
    rng: random.Random
    translate: Any  # the study language's translator: attention prompts are stored with the plan
    stim: dict[str, Stimulus] = field(init=False)
    positions: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.stim = {s.image_id: s for s in self.task.stimuli}
        self.positions = {i: j for j, i in enumerate([*self.items.get("learn", ()), *self.items.get("test", ())])}

    def model(self, image_id: str) -> ModelOutput:
        return self.preds.by_image[image_id]

    def arms_at(self, position: int, all_arms: bool = False) -> list[str]:
        """Arm keys shown on the item at ``position``: one (the condition's, or the Latin square's), or with
        ``all_arms`` every arm, rotated by the condition."""
        arms = self.study.task_arms(self.task)
        if self.study.design.type == "between":
            return [arms[self.condition % len(arms)]]
        if all_arms:
            return [arms[(self.condition + j) % len(arms)] for j in range(len(arms))]
        return [latin_square_arm(arms, self.condition, position)]

    def planned_map(self, method: MethodConfig, stim: Stimulus, target_index: int | None, *, key: str | None = None,
                    target: str | None = None, source: Stimulus | None = None) -> PlannedMap:
        """``method``'s map explaining ``target_index``, computed on ``source`` (another stimulus) or ``stim``."""
        source = source or stim
        own = source is stim
        return PlannedMap(key=key or method.key, name=method.name, label=method.label, params=dict(method.params),
                          randomized_model=method.randomized_model, target=target, target_index=target_index,
                          cache_key=None if target_index is None else map_cache_key(
                              self.preds, source.sha256, method, target_index, per_class=target is not None),
                          image_id=None if own else source.image_id, image_path=None if own else source.path,
                          image_sha256=None if own else source.sha256)

    def maps(self, image_id: str, keys: Sequence[str], targets: Sequence[str | None] = (None,)) -> tuple[PlannedMap, ...]:
        """The maps of arms ``keys`` (the control ``none`` has none) on ``image_id``, one per target class
        (``None``: the model's prediction)."""
        stim, predicted = self.stim[image_id], self.preds.by_image[image_id].label
        return tuple(self.planned_map(self.study.method(key), stim, class_index(self.task, self.preds, t or predicted),
                                      target=t)
                     for key in keys if key != NO_EXPLANATION for t in targets)

    def step(self, image_id: str, arms: Sequence[str], group: str, phase: str, prediction: ModelOutput | None,
             maps: tuple[PlannedMap, ...] = (), options: tuple[str, ...] = ()) -> TrialStep:
        s, model = self.stim[image_id], self.model(image_id)
        task = self.task
        return TrialStep(
            trial=-1, phase=phase, group=group, task=task.name, protocol=task.protocol, image_id=image_id,
            image_path=s.path, image_sha256=s.sha256, checkpoint=task.checkpoint,
            checkpoint_sha256=self.preds.checkpoint_sha256, true_label=s.label, model=model, prediction=prediction,
            target_index=class_index(task, self.preds, model.label), target_label=model.label, arms=tuple(arms),
            maps=maps, options=options, show_true_label=task.show_true_label, clinical_notice=task.clinical_notice,
            scale=(task.scale[0], task.scale[1]),
        )


MapRequester = Callable[..., Any]  # maps.coverage.map_request(task, stimulus, method, preds, target=None)


class Protocol:
    """What a protocol decides. Subclasses set the class attributes and override the hooks they need.

    Attributes:
        name: the study file's ``protocol`` value.
        prompts: phase → the question (English msgid, shown in the study's language).
        fields: task fields only this protocol takes (another protocol's task naming one is refused).
        displays: ``display`` values it supports (``side_by_side``: every arm's map on one trial).
        balance_by_correctness: items balanced by whether the model is right (else by true class).
        class_answers: answer keys that hold a class name (exported again in the participant's words).
        outcome, likert: the analysis scripts' outcome column (``None``: no right answer) and Likert items.
        reliance: which reliance measures apply (``"answer_with_advice"``: the participant's answer with the AI's
            advice, and their own before it where asked; ``"accept_reject"``: accepting the AI's answer is agreeing;
            ``None``: none).
        draws_per_participant: each participant's trials are drawn from a pool with a set share where the AI is
            wrong (the power analysis then simulates the draw), rather than fixed items for everyone.
    """

    name: ClassVar[str]
    prompts: ClassVar[Mapping[str, str]]
    fields: ClassVar[tuple[str, ...]] = ()
    displays: ClassVar[tuple[str, ...]] = ("single",)
    balance_by_correctness: ClassVar[bool] = False
    draws_per_participant: ClassVar[bool] = False  # trials drawn per participant from a pool, by the AI's correctness
    class_answers: ClassVar[tuple[str, ...]] = ()
    outcome: ClassVar[str | None] = "correct"
    likert: ClassVar[tuple[str, ...]] = ("answer_confidence",)
    reliance: ClassVar[str | None] = None
    judges_each_method: ClassVar[bool] = False  # answers judge each method shown (the analysis fits one model per method)
    shows_topk: ClassVar[int] = 1  # how many of the model's classes the prediction shows
    maps_explain_options: ClassVar[bool] = False  # one map per candidate class, labelled by the class

    # ---- the study file -----------------------------------------------------------------------------------
    def parse_fields(self, f, trials: int) -> dict[str, Any]:
        """This protocol's own task fields (``f``: the parser's field reader) as ``TaskConfig`` keywords."""
        return {}

    def count_field(self, task: TaskConfig) -> str:
        """The field to blame when the task asks for more images than it has."""
        return "trials"

    def check_loaded(self, task: TaskConfig, class_names: Sequence[str]) -> list[tuple[str, str]]:
        """``(field, problem)`` for what needs the checkpoint's classes to check."""
        return []

    # ---- the design ---------------------------------------------------------------------------------------
    def select_items(self, task: TaskConfig, preds: TaskPredictions, rng: random.Random) -> dict[str, list[str]]:
        """The images the task uses, the same for every participant: ``{"learn": [...], "test": [...]}``."""
        ids = [s.image_id for s in task.stimuli]
        if self.balance_by_correctness:
            key = {i: preds.by_image[i].correct for i in ids}
        else:
            key = {s.image_id: s.label for s in task.stimuli}
        learn = balanced_by(ids, key, task.learning_trials, rng) if task.learning_trials else []
        rest = [i for i in ids if i not in set(learn)]
        return {"learn": learn, "test": balanced_by(rest, key, task.trials, rng)}

    def arms_at(self, ctx: TrialContext, position: int) -> list[str]:
        return ctx.arms_at(position)

    def phases(self, ctx: TrialContext, image_id: str, group: str, arms: list[str]) -> list[TrialStep]:
        """The phase steps of one trial of ``image_id`` showing ``arms``."""
        raise NotImplementedError

    def trials(self, ctx: TrialContext) -> list[list[TrialStep]]:
        """The participant's trials of this task, each a list of its phase steps, before attention checks."""
        learn = [self.phases(ctx, i, "learn", self.arms_at(ctx, ctx.positions[i])) for i in ctx.items["learn"]]
        test = [self.phases(ctx, i, "test", self.arms_at(ctx, ctx.positions[i])) for i in ctx.items["test"]]
        ctx.rng.shuffle(learn)
        ctx.rng.shuffle(test)
        return learn + test

    def check_trial(self, ctx: TrialContext, image_id: str) -> TrialStep:
        """The answered step an attention check on ``image_id`` is made from (before its instruction)."""
        arms = self.arms_at(ctx, ctx.rng.randrange(len(ctx.study.task_arms(ctx.task))))
        return self.phases(ctx, image_id, "test", arms)[0]

    def attention(self, ctx: TrialContext, check: TrialStep) -> tuple[dict, str]:
        """``(expected answer, instruction)`` of an attention check made from ``check``: pick a given option."""
        t = ctx.translate
        choice = ctx.rng.choice(check.options)
        # TRANSLATORS: {choice} is the class as its radio button reads it (the study file's class_labels).
        prompt = t.gettext("Attention check: please choose “{choice}”.").format(choice=ctx.task.class_label(choice))
        return {"choice": choice}, prompt

    def post_questions(self, study: Study, arms_seen: Sequence[str]) -> list[Question]:
        """Closing questions this protocol adds to the post-questionnaire."""
        return []

    def prompt(self, phase: str, sole_answer: bool = False) -> str:
        return self.prompts[phase]

    # ---- answers ------------------------------------------------------------------------------------------
    def validate(self, step: TrialStep, answer: Mapping) -> dict:
        """The clean answer of a phase that asks something (the comment is checked by the caller): by default
        one of the step's options and an optional confidence."""
        no_extra(answer, {"choice", "confidence", "comment"})
        if not isinstance(answer.get("choice"), str) or answer["choice"] not in step.options:
            raise AnswerError("choice", f"{show(answer.get('choice'))} is not one of {', '.join(step.options)}")
        clean = {"choice": answer["choice"]}
        if answer.get("confidence") is not None:
            clean["confidence"] = int_in("confidence", answer["confidence"], *step.scale)
        return clean

    def score(self, step: TrialStep, answer: Mapping) -> bool | None:
        """Whether the participant was right; ``None`` where the phase has no right answer."""
        if "choice" in answer and step.phase != PHASE_LEARN:
            return answer["choice"] == step.model.label
        return None

    def with_stored_answers(self, step, stored_answer: Callable[[int, str], Mapping | None]):
        """The participant's step, with anything of their earlier answers the page shows (default: nothing)."""
        return step

    # ---- the export ---------------------------------------------------------------------------------------
    def export_columns(self, first: TrialStep, maps: Sequence, answers: Sequence) -> dict[str, Any]:
        """Columns only this protocol's trials have, from the trial's first planned step, its planned maps and
        its stored answers (in the order they are exported)."""
        return {}

    # ---- maps ---------------------------------------------------------------------------------------------
    def shown_methods(self, study: Study, task: TaskConfig) -> list[MethodConfig]:
        return list(study.task_methods(task))

    def map_targets(self, task: TaskConfig, preds: TaskPredictions, stim: Stimulus) -> list[str | None]:
        """The classes a stimulus's maps explain (``None``: the model's prediction)."""
        return [None]

    def required_maps(self, study: Study, task: TaskConfig, preds: TaskPredictions,
                      map_request: MapRequester) -> list[tuple[str, Any]]:
        """``(description, request)`` for every map a task of this protocol can show."""
        out = []
        for stim in task.stimuli:
            targets = self.map_targets(task, preds, stim)
            for m in self.shown_methods(study, task):
                for target in targets:
                    where = f"{task.name}/{stim.image_id} × {m.key}" + (f" → {target}" if target else "")
                    out.append((where, map_request(task, stim, m, preds, target)))
        return out

