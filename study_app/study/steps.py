"""What the participant sees next: plain, immutable values the UI renders and never mutates.

The engine hands out a :class:`Step` and takes back ``(step.step_id, answer)``. Step ids are stable strings
(``"consent"``, ``"trial:3"``, ``"trial:3/explanation"``, ...) so that an answer for a step that is no
longer current (a double click, a stale browser tab) can be recognised and ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from study_app.i18n import N_

# Stage names, in the order every participant moves through them.
CONSENT = "consent"
PRE_QUESTIONNAIRE = "pre_questionnaire"
INSTRUCTIONS = "instructions"
TRIAL = "trial"
POST_QUESTIONNAIRE = "post_questionnaire"
ARM_QUESTIONNAIRE = "arm_questionnaire"  # a per-arm instrument, after the last trial of each arm (arm_blocks)
# The HIVE sequence (study.hive): the understanding rating before the trials, after them, and with the reveal
HIVE_BEFORE = "hive_before"
HIVE_AFTER = "hive_after"
HIVE_REVEAL = "hive_reveal"
HIVE_STEPS = (HIVE_BEFORE, HIVE_AFTER, HIVE_REVEAL)
DONE = "done"
# End states that are not reached by finishing.
DECLINED = "declined"
WITHDRAWN = "withdrawn"
SCREENED_OUT = "screened_out"  # ended by the study's screen-out rule (the end page with its own code)

# Protocol names (each protocol is a plug-in of study_app.study.protocols, registered in PROTOCOLS there).
RATE = "rate"
FORWARD_SIMULATION = "forward_simulation"
VERIFICATION = "verification"
DISTINCTION = "distinction"
DECISION = "decision"

# Trial phases. Most trials have one phase; ``rate`` asks trust before revealing the explanation, and the
# server must know the trust answer was given before the map was shown, so it is a separate step.
PHASE_MAIN = "main"
PHASE_TRUST = "trust"
PHASE_EXPLANATION = "explanation"
PHASE_LEARN = "learn"  # forward simulation: study the model's output with its explanation
PHASE_PREDICT = "predict"  # forward simulation: guess the model's output, no explanation
PHASE_INITIAL = "initial"  # decision, two-step: the participant's own answer, before any advice
PHASE_FINAL = "final"  # decision: the answer with the advice of the participant's arm (the only phase in one-step)

# Decision arms besides the study's method keys: no advice, the prediction alone, an uninformative map.
ARM_HUMAN = "human"
ARM_AI = "ai"
ARM_PLACEBO = "placebo"
DECISION_ARMS = (ARM_HUMAN, ARM_AI, ARM_PLACEBO)
TWO_STEP = "two_step"
ONE_STEP = "one_step"
DECISION_VARIANTS = (TWO_STEP, ONE_STEP)
PLACEBO_RANDOMIZED = "randomized_model"  # the placebo method's map on the weight-randomised model
PLACEBO_OTHER_IMAGE = "other_image"  # the placebo method's map of another stimulus of the task
PLACEBO_SHUFFLED = "shuffled"  # a concepts panel of the shown image's class with its scores permuted over the concepts
PLACEBO_SOURCES = (PLACEBO_RANDOMIZED, PLACEBO_OTHER_IMAGE, PLACEBO_SHUFFLED)


def asks_first(arm: str, variant: str) -> bool:
    """Whether a decision trial asks the participant's own answer before the advice (two-step, an arm with
    advice); otherwise its ``final`` phase is its only answer."""
    return variant == TWO_STEP and arm != ARM_HUMAN


# Answers the ``rate`` protocol accepts for "did this explanation help you understand the prediction?".
EFFECT_OPTIONS = ("helped", "no_effect", "hurt")
VERIFICATION_DECISIONS = ("accept", "reject")
# What the participant reads for each stored value (English msgids; shown in the study's language).
EFFECT_LABELS = {"helped": N_("It helped me understand"), "no_effect": N_("No effect"),
                 "hurt": N_("It confused me")}
DECISION_LABELS = {"accept": N_("Yes, the prediction is correct"), "reject": N_("No, the prediction is wrong")}
NO_EXPLANATION = "none"  # method key of the no-explanation control condition


@dataclass(frozen=True)
class ShownMethod:
    """One explanation to draw on a trial.

    Attributes:
        key: Unique key within the study (answers are keyed by it), e.g. ``"gradcam"`` or
            ``"gradcam@random"`` for the negative control.
        name: Registry name in ``study_app.explain.methods.METHODS``.
        label: What the participant reads (``"Grad-CAM"``); for blinded studies a neutral letter.
        params: Keyword arguments for the method, as written in the study file.
        randomized_model: True for the negative control: compute the map on a copy of the model whose
            weights were re-initialised (Adebayo et al. 2018), so a method that ignores the model shows up.
        target: Class name the map explains; ``None`` means the model's top prediction. Distinction
            trials show one map per candidate class.
        target_index: The class index the map explains, as the plan resolved it (``None``: not resolved,
            e.g. the researcher's gallery; the map service then uses the model's prediction).
        image_path: The image the map was computed on when it is not the trial's (a decision placebo
            drawn from another image); ``None``: the trial's image.
    """

    key: str
    name: str
    label: str
    params: dict = field(default_factory=dict)
    randomized_model: bool = False
    target: str | None = None
    target_index: int | None = None
    image_path: str | None = None


@dataclass(frozen=True)
class PredictionView:
    """The model's output on the trial image as the participant may see it: top class and top-k, best first.

    Whether the model is right is deliberately absent: in verification that is the answer.
    """

    label: str
    prob: float
    topk: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Question:
    """One questionnaire item.

    ``kind`` is ``choice`` (one of ``options``), ``likert`` (integer ``low``..``high``, with ``options``
    as optional anchor labels), ``text`` (free text up to ``max_length``), ``number`` (``low``..``high``)
    or ``rank`` (a permutation of ``options``). ``correct`` is set on comprehension questions only (a
    ``choice`` shown under the instructions, :mod:`study_app.study.comprehension`): the right option.
    """

    id: str
    text: str
    kind: str
    options: tuple[str, ...] = ()
    low: int | None = None
    high: int | None = None
    required: bool = True
    max_length: int = 10_000
    correct: str | None = None


def class_label(labels: Mapping[str, str], name: str) -> str:
    """What participants read for class ``name``: its label in ``labels`` (the study file's ``class_labels``),
    else the class name itself. Answers, options and the export's class columns stay class names."""
    return labels.get(name, name)


@dataclass(frozen=True)
class TrialSpec:
    """Everything the UI needs to draw one trial step, and nothing it must compute itself.

    Attributes:
        index: 0-based trial number across all tasks; ``total`` trials in all.
        phase: ``main``, or for ``rate`` ``trust`` then ``explanation``, for forward simulation
            ``learn`` or ``predict``.
        task: Task name from the study file.
        protocol: ``rate``, ``forward_simulation``, ``verification`` or ``distinction``.
        image_id: Stable id of the stimulus (``class/file.jpg`` relative to its stimulus root).
        image_path: Absolute path; open it with ``trainers.images.open_rgb`` and crop with
            ``trainers.predict.display_image`` so the picture matches the map.
        checkpoint: Checkpoint directory (absolute) whose model is explained.
        true_label: Ground truth, or ``None`` unless the study shows it (``show_true_label``): in
            verification it is the answer. Never display ``image_id`` or ``image_path`` either; with a
            folder of class folders they contain the class name.
        prediction: The model's output; ``None`` where the protocol hides it (forward simulation
            ``predict`` phase, distinction).
        methods: Explanations to draw, in display order; empty for the control condition and for phases
            that show none.
        options: Choices offered (class names for forward simulation / distinction).
        prompt: The question, in Markdown.
        is_attention_check: Set on attention-check trials; ``attention_prompt`` then says what to answer.
        scale: ``(low, high)`` of the trust or confidence scale.
        clinical_notice: The task's ``clinical_notice`` setting: show the research-only notice (True), never
            (False), or decide from the task, model and class names (None; also for plans stored before
            the setting existed).
        advice_on_request: Decision ``final`` phase: the advice (``prediction`` and ``methods``) stays
            hidden until the participant asks for it; the answer says whether and when they did.
        sole_answer: Decision ``final`` phase that is the trial's only answer (the human arm, the one-step
            variant, attention checks): asked as the participant's answer, not as a final one.
        first_answer: Decision ``final`` phase of a two-step trial: the participant's own answer before the
            advice, with ``first_confidence``, shown above the advice; ``None`` where the engine did not add it
            (the researcher's preview).
        class_labels: What the participant reads for each class (the study file's ``class_labels``); the stored
            answers and ``options`` stay class names: show them through :meth:`class_label`.
    """

    index: int
    total: int
    phase: str
    task: str
    protocol: str
    image_id: str
    image_path: str
    checkpoint: str
    true_label: str | None
    prediction: PredictionView | None
    methods: tuple[ShownMethod, ...]
    options: tuple[str, ...]
    prompt: str
    show_true_label: bool = False
    is_attention_check: bool = False
    attention_prompt: str = ""
    scale: tuple[int, int] = (1, 7)
    clinical_notice: bool | None = None
    advice_on_request: bool = False
    sole_answer: bool = False
    first_answer: str | None = None
    first_confidence: int | None = None
    class_labels: Mapping[str, str] = field(default_factory=dict)

    def class_label(self, name: str) -> str:
        """What the participant reads for class ``name``."""
        return class_label(self.class_labels, name)


@dataclass(frozen=True)
class Step:
    """Which stage a participant is at, with what the UI needs to draw it.

    Attributes:
        kind: One of ``consent``, ``pre_questionnaire``, ``instructions``, ``trial``, ``arm_questionnaire``
            (after an arm's block of trials, about that arm), ``hive_before``/``hive_after``/``hive_reveal`` (the
            HIVE sequence, :mod:`study_app.study.hive`), ``post_questionnaire``, ``done``, ``declined``,
            ``withdrawn``.
        step_id: Pass back unchanged to :meth:`StudyEngine.submit`.
        text: Markdown for consent and instructions.
        questions: Items of a questionnaire step; on ``instructions`` the study's comprehension questions.
        trial: The trial on a ``trial`` step.
        completion_code: On ``done``.
        redirect_url: On ``done``, where to send the participant (Prolific), or ``None``.
        progress: ``(answered steps, all steps)`` for a progress bar.
        retry: On ``instructions``, returned by the submit that answered a comprehension question wrongly
            while a retry was left: the same step again, to read the instructions and answer once more.
        full: On ``consent``: every condition a newcomer could get is at its cap (``[recruitment]``).
    """

    kind: str
    step_id: str
    text: str = ""
    questions: tuple[Question, ...] = ()
    trial: TrialSpec | None = None
    completion_code: str | None = None
    redirect_url: str | None = None
    progress: tuple[int, int] = (0, 0)
    retry: bool = False
    full: bool = False  # on ``consent``: the study's caps take no newcomer now ([recruitment]); no consent offered
