"""A participant's plan: the typed, versioned contract between the design, the engine, the store and the export.

:func:`study_app.study.design.build_plan` makes a :class:`Plan`; the repository stores :meth:`Plan.to_json`
(canonical JSON, hashed) with the participant; the engine and the export read it back with
:meth:`Plan.from_json`. Nothing reads plan dicts by string keys outside this module.

Each :class:`TrialStep` carries what the participant will be shown: the image (path and content hash), the
checkpoint (directory and weights hash), the prediction as shown, the class the maps explain (index and
label) and, for every map, the attribution-cache key it is served from. What was *actually* served is
recorded when the step is shown (:class:`study_app.store.records.ShownRecord`).

Versions: 1 (the first release: no target indices or cache keys; loaded with ``None`` cache keys and the
target index looked up in the task's class names), 2 (target indices and cache keys), 3 (a decision
trial's :class:`Advice`, and a map's own image where it is not the trial's; plans of versions 1 and 2 have
neither and read back unchanged), 4 (this one: :attr:`Plan.class_labels`, what the participant read for each
class; older plans read back with none, so their classes show and export under their names).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields, replace

from study_app.study.arm_blocks import STEP_PREFIX, block_ends
from study_app.study.steps import (
    ARM_QUESTIONNAIRE,
    CONSENT,
    DONE,
    HIVE_AFTER,
    HIVE_BEFORE,
    HIVE_REVEAL,
    INSTRUCTIONS,
    POST_QUESTIONNAIRE,
    PRE_QUESTIONNAIRE,
    TRIAL,
    PredictionView,
    Question,
    ShownMethod,
    class_label,
)

PLAN_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)


class PlanFormatError(ValueError):
    """A stored plan this release cannot read (a newer version, or not a plan at all)."""


@dataclass(frozen=True)
class ModelOutput:
    """The model's output on one image: top class, top-k (best first) and whether the top class is right.

    :mod:`study_app.study.predictions` makes one per stimulus; a :class:`TrialStep` stores it (``model``) and,
    trimmed to what the protocol shows, as the prediction the participant sees."""

    label: str
    prob: float
    topk: tuple[tuple[str, float], ...]
    correct: bool

    def trimmed(self, k: int) -> ModelOutput:
        return replace(self, topk=self.topk[:k])

    def view(self) -> PredictionView:
        """What a participant may see: without ``correct`` (in verification that is the answer)."""
        return PredictionView(label=self.label, prob=self.prob, topk=self.topk)


@dataclass(frozen=True)
class PlannedMap(ShownMethod):
    """One explanation map a trial step shows: what the participant is shown of it (the fields of
    :class:`~study_app.study.steps.ShownMethod`, handed out by :meth:`shown`) and where it is served from.

    Attributes:
        target: The class name the study asked this map to explain; ``None``: the model's prediction.
        target_index: The class index the map explains (``None`` only in version-1 plans without class names).
        cache_key: The attribution-cache key the map is served from (``None`` in version-1 plans).
        image_id, image_path, image_sha256: The image the map was computed on when it is not the step's (a
            decision placebo from another image); ``None``: the step's image. Every map is drawn over the
            step's image all the same (:meth:`study_app.maps.service.MapRequest.on_trial`).
    """

    cache_key: str | None = None
    image_id: str | None = None
    image_sha256: str | None = None

    def shown(self) -> ShownMethod:
        """What the participant's trial carries of this map (no cache key, image id or hash)."""
        return ShownMethod(**{**{f.name: getattr(self, f.name) for f in fields(ShownMethod)},
                              "params": dict(self.params)})

    @property
    def column(self) -> str:
        """How the export names this map among several: ``key``, or ``key->target`` for distinction."""
        return self.key if self.target is None else f"{self.key}->{self.target}"


@dataclass(frozen=True)
class Advice:
    """A decision trial's arm and how its advice is given (the same on both phases of a trial).

    Attributes:
        arm: ``human`` (no advice), ``ai`` (prediction only), a method key, or ``placebo``.
        variant: ``two_step`` (own answer, then advice and a final answer) or ``one_step``.
        on_request: The advice shows only when the participant asks for it (final phase).
        placebo_source: ``randomized_model`` or ``other_image`` on placebo trials, else ``None``.
        placebo_method: The method key whose map the placebo shows.
        placebo_image_id: The other image whose map (for the class the advice names) the placebo shows over
            the trial's image (``other_image``); ``None`` for ``randomized_model`` (the trial's image).
    """

    arm: str
    variant: str
    on_request: bool = False
    placebo_source: str | None = None
    placebo_method: str | None = None
    placebo_image_id: str | None = None


@dataclass(frozen=True)
class TrialStep:
    """One phase of one trial, as planned for a participant (see the module docstring)."""

    trial: int
    phase: str
    group: str  # "learn" or "test"
    task: str
    protocol: str
    image_id: str
    image_path: str
    image_sha256: str
    checkpoint: str
    checkpoint_sha256: str
    true_label: str
    model: ModelOutput  # the full output, for scoring and the export
    prediction: ModelOutput | None  # what the participant sees of it; None where the protocol hides it
    target_index: int | None  # the class the maps explain by default: the model's prediction
    target_label: str
    arms: tuple[str, ...]
    maps: tuple[PlannedMap, ...]
    options: tuple[str, ...]
    show_true_label: bool
    clinical_notice: bool | None
    scale: tuple[int, int]
    is_attention_check: bool = False
    attention_prompt: str = ""
    expected: Mapping = field(default_factory=dict)
    advice: Advice | None = None  # decision trials only

    @property
    def step_id(self) -> str:
        return f"trial:{self.trial}/{self.phase}"


@dataclass(frozen=True)
class Plan:
    """A participant's whole sequence: condition, seed, trial steps in order, closing questions."""

    condition: int
    condition_label: str
    seed: int
    n_trials: int
    trial_steps: tuple[TrialStep, ...]
    post_questions: tuple[Question, ...]
    version: int = PLAN_VERSION
    class_labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)  # task -> class -> shown text

    def class_label(self, task: str, name: str | None) -> str | None:
        """What the participant read for class ``name`` of ``task`` (the name itself where the study named none)."""
        return None if name is None else class_label(self.class_labels.get(task, {}), name)

    def to_json(self) -> dict:
        """JSON-safe data (tuples become lists); :meth:`from_json` reads it back equal."""
        return _plain(asdict(self))

    @classmethod
    def from_json(cls, data: Mapping, class_names: Callable[[str], Sequence[str]] | None = None) -> Plan:
        """A stored plan of any readable version.

        Args:
            class_names: ``task name -> class names``; lets a version-1 plan (which stored labels only) know
                the class index its maps explain.

        Raises:
            PlanFormatError: an unknown version or a malformed plan.
        """
        version = data.get("version") if isinstance(data, Mapping) else None
        if version not in READABLE_VERSIONS:
            raise PlanFormatError(f"plan version {version!r} is not one this release reads ({READABLE_VERSIONS})")
        try:
            steps = tuple(_step(s, version, class_names) for s in data["trial_steps"])
            post = tuple(Question(**{**q, "options": tuple(q["options"])}) for q in data["post_questions"])
            return cls(condition=int(data["condition"]), condition_label=str(data["condition_label"]),
                       seed=int(data["seed"]), n_trials=int(data["n_trials"]), trial_steps=steps,
                       post_questions=post, version=PLAN_VERSION,
                       class_labels={str(t): {str(k): str(v) for k, v in labels.items()}
                                     for t, labels in (data.get("class_labels") or {}).items()})
        except (KeyError, TypeError, ValueError) as exc:
            raise PlanFormatError(f"malformed version-{version} plan: {exc!r}") from exc

    def steps_of_trial(self, trial: int) -> tuple[TrialStep, ...]:
        return tuple(s for s in self.trial_steps if s.trial == trial)


@dataclass(frozen=True)
class StagePlan:
    """A plan laid out as the participant's stages (what the participant row's ``stage`` indexes).

    With per-arm questions (``per_arm``) a questionnaire stage follows the last trial of each arm
    (:func:`study_app.study.arm_blocks.block_ends`); ``arm_at`` maps such a stage to its arm. The HIVE sequence
    (``hive``, :mod:`study_app.study.hive`) adds a rating between the instructions and the first trial, and a
    rating and the reveal with the rating after the trials."""

    plan: Plan
    kinds: tuple[str, ...]  # one per stage: consent, [pre], instructions, trials (and per-arm)..., [post], done
    first_trial_stage: int
    trial_at: Mapping[int, int] = field(default_factory=dict)  # stage -> index into plan.trial_steps
    arm_at: Mapping[int, str] = field(default_factory=dict)  # stage -> arm of a per-arm questionnaire

    @classmethod
    def of(cls, plan: Plan, *, pre_questionnaire: bool, per_arm: bool = False, hive: bool = False) -> StagePlan:
        kinds = [CONSENT, *([PRE_QUESTIONNAIRE] if pre_questionnaire else []), INSTRUCTIONS,
                 *([HIVE_BEFORE] if hive else [])]
        first_trial = len(kinds)
        ends = {index: arm for arm, index in block_ends(plan.trial_steps)} if per_arm else {}
        trial_at, arm_at = {}, {}
        for index in range(len(plan.trial_steps)):
            trial_at[len(kinds)] = index
            kinds.append(TRIAL)
            if index in ends:
                arm_at[len(kinds)] = ends[index]
                kinds.append(ARM_QUESTIONNAIRE)
        kinds += [HIVE_AFTER, HIVE_REVEAL] if hive else []
        kinds += [POST_QUESTIONNAIRE] if plan.post_questions else []
        kinds.append(DONE)
        return cls(plan=plan, kinds=tuple(kinds), first_trial_stage=first_trial, trial_at=trial_at, arm_at=arm_at)

    def trial_step(self, stage: int) -> TrialStep | None:
        """The trial step shown at ``stage``; ``None`` for any other kind of stage."""
        if self.kinds[stage] != TRIAL:
            return None
        return self.plan.trial_steps[self.trial_at[stage]]

    def step_id(self, stage: int) -> str:
        step = self.trial_step(stage)
        if step is not None:
            return step.step_id
        return STEP_PREFIX + self.arm_at[stage] if stage in self.arm_at else self.kinds[stage]


def _plain(value):
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _model(data: Mapping | None) -> ModelOutput | None:
    if data is None:
        return None
    return ModelOutput(label=str(data["label"]), prob=float(data["prob"]),
                     topk=tuple((str(label), float(p)) for label, p in data["topk"]), correct=bool(data["correct"]))


def _index(names: Sequence[str] | None, label: str | None) -> int | None:
    if names is None or label is None or label not in names:
        return None
    return list(names).index(label)


def _step(data: Mapping, version: int, class_names) -> TrialStep:
    model = _model(data["model"])
    shown = data.get("prediction")
    if version == 1:  # the first release: a shown prediction without "correct", maps under "methods"
        names = class_names(data["task"]) if class_names else None
        prediction = None if shown is None else _model({**shown, "correct": model.correct})
        maps = tuple(PlannedMap(key=m["key"], name=m["name"], label=m["label"], params=dict(m.get("params") or {}),
                                randomized_model=bool(m.get("randomized_model")), target=m.get("target"),
                                target_index=_index(names, m.get("target") or model.label))
                     for m in data["methods"])
        target_index, target_label = _index(names, model.label), model.label
    else:
        prediction = _model(shown)
        maps = tuple(PlannedMap(**{**m, "params": dict(m.get("params") or {})}) for m in data["maps"])
        target_index, target_label = data["target_index"], data["target_label"]
    return TrialStep(
        trial=int(data["trial"]), phase=data["phase"], group=data["group"], task=data["task"],
        protocol=data["protocol"], image_id=data["image_id"], image_path=data["image_path"],
        image_sha256=data["image_sha256"], checkpoint=data["checkpoint"], checkpoint_sha256=data["checkpoint_sha256"],
        true_label=data["true_label"], model=model, prediction=prediction, target_index=target_index,
        target_label=target_label, arms=tuple(data["arms"]), maps=maps, options=tuple(data["options"]),
        show_true_label=bool(data["show_true_label"]), clinical_notice=data.get("clinical_notice"),
        scale=(int(data["scale"][0]), int(data["scale"][1])), is_attention_check=bool(data["is_attention_check"]),
        attention_prompt=data.get("attention_prompt", ""), expected=dict(data.get("expected") or {}),
        advice=Advice(**data["advice"]) if version >= 3 and data.get("advice") else None,
    )
