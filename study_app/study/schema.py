"""The study file: a TOML document parsed into frozen dataclasses, every field checked with its path.

This module holds what a study *is* (the dataclasses below); :mod:`study_app.study.parser` reads the TOML
into them, naming the path of every bad field, and :mod:`study_app.study.loader` resolves paths and checks
images and checkpoints.

Schema (see ``examples/studies/*.toml`` for one complete file per protocol)::

    [study]
    id = "pets-verification"           # slug: letters, digits, - and _
    title = "..."
    seed = 2026                        # fixes item selection; participant seeds are drawn per person
    completion_code = "C0DE42"         # Prolific's code for a completed submission
    screened_out_code = "SCR33N"       # optional: for participants screened out
    no_consent_code = "N0C0NS"         # optional: for participants who decline consent
    redirect_url = "https://app.prolific.com/submissions/complete?cc={code}"   # optional; {code}: the
                                       # outcome's code; the end page returns there by itself
    redirect_seconds = 5               # optional: seconds on the end page before returning (0: link only)
    min_viewport_width = 900           # optional device gate, checked on consent (px)
    allow_phones = true                # optional device gate: false refuses phones on consent
    screen_out_after = 2               # optional: this many failed checks end the study politely (the
                                       # screened-out code; the slot returns to the assignment pool). Failed
                                       # attention checks and wrong comprehension answers count together
    comprehension_retries = 0          # optional: after a wrong comprehension answer, show the instructions
                                       # again this many times (0..3) before the answers count; default 0
    min_trial_seconds = 2              # optional: answers faster than this are flagged in export and progress
    language = "en"                    # optional: the participant-facing text's language ("en", "de");
                                       # the study's own texts below are written in it by the researcher
    consent = '''Markdown'''           # or consent_file = "consent.md" (relative to this file)
    instructions = '''Markdown'''      # or instructions_file = "..."
    keep_external_ids = false          # true: store Prolific ids as given; false: HMAC-SHA256
    require_prolific_id = false        # true: only visitors whose link carries a usable PROLIFIC_PID may
                                       # start (others are asked to open the study from Prolific)
    inactive_timeout_minutes = 30      # after this, an unfinished participant's slot is reassigned
    blind_method_names = false         # true: methods are labelled "Explanation A", "B", ...
    hive_sequence = false              # true: HIVE's "how well do you understand the model's reasoning?"
                                       # before the trials, after them, and after revealing the participant's
                                       # accuracy (protocols with right answers only; study.hive)
    map_colours = "gnbu"               # optional: the maps' colour scheme, "gnbu" (default: readable under
                                       # colour-vision deficiencies) or "inferno" (the first release's)
    cache = "cache"                    # optional: attribution cache folder (relative to this file); else
                                       # $XAI_STUDY_CACHE, else .xai_cache/ in the working directory

    [design]
    type = "within"                    # every participant sees every method (Latin square), or "between"
    control = false                    # add a no-explanation condition
    negative_control = "gradcam"       # optional: also show this method on a weight-randomised model

    [[methods]]                        # one or more
    name = "gradcam"                   # registry name in study_app.explain.methods.METHODS
    key = "gradcam"                    # optional, unique; defaults to name
    label = "Grad-CAM"                 # optional display name
    params = { }                       # optional keyword arguments

    [[methods]]                        # a panel instead of a map (study_app.explain.panels): the k pool
    key = "examples"                   # photos most similar to the shown one, with their labels
    name = "similar_examples"          # or "prediction_grid" (n photos per predicted class) or "concepts"
    label = "Similar photos"           # (TCAV scores of concept folders: params pool, concepts, runs, alpha)
    params = { pool = "pools/pets", k = 4 }   # pool: one folder per class, relative to this file

    [[tasks]]                          # one or more
    name = "pets"
    protocol = "verification"          # rate | forward_simulation | verification | distinction
    checkpoint = "../../checkpoints/pets"
    stimuli = "../stimuli/pets"        # folder of class folders, or a list:
    # stimuli = [{ path = "a.jpg", label = "cat" }, ...]
    trials = 8                         # test trials for forward_simulation
    learning_trials = 4                # forward_simulation only
    k = 2                              # distinction only: number of candidate classes
    display = "single"                 # rate only: "single" method per trial or "side_by_side"
    attention_checks = 1
    scale = [1, 7]                     # trust / confidence scale
    show_true_label = false
    clinical_notice = true             # optional: show the research-only notice on every trial of the task
                                       # (default: shown when task, model or class names look medical)
    methods = ["gradcam", "examples"]  # optional: the method keys this task shows (default: all); a
                                       # decision task names them in arms
    class_labels = { notumor = "no tumour", glioma = "glioma" }   # optional: what participants read for
                                       # each of the model's classes, in the study's language; if given it
                                       # must name every class (answers and the export keep the class names)

    [[pre_questionnaire]]              # optional; defaults: age band, ML experience, domain expertise
    id = "age_band"
    text = "What is your age?"
    kind = "choice"                    # choice | likert | text | number | rank
    options = ["18-24", "25-34", "35+"]
    required = true                    # optional; likert/number also take low, high; text max_length

    [[post_questionnaire]]             # optional; rate studies add method ranking and trust per method
                                       # { instrument = "hoffman_trust", placement = "per_arm" }: a validated
                                       # scale, here asked after each arm's block of trials (study.arm_blocks)

    [recruitment]                      # optional: caps per condition and in total, and the rules of
                                       # xai-study prolific (see study_app.study.recruitment)

    [[comprehension]]                  # optional: questions under the instructions that check they were
    id = "highlight"                   # understood; each is a choice with one right option
    text = "What will the highlighted regions show?"
    kind = "choice"                    # the only kind a comprehension question takes (may be left out)
    options = ["What the model relied on", "Where the animal is"]
    correct = "What the model relied on"   # must be one of options; a wrong answer is a failed check
                                       # (export: comprehension_<id>, failed_comprehension, failed_checks)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from study_app.explain.colours import DEFAULT_MAP_COLOURS
from study_app.i18n import DEFAULT_LANGUAGE, N_
from study_app.study.device_gate import DeviceGate
from study_app.study.recruitment import Recruitment
from study_app.study.steps import NO_EXPLANATION, Question, ShownMethod, class_label


@dataclass(frozen=True)
class StimulusSpec:
    """A stimulus as written in the file: a path (relative to the study file) and an optional label."""

    path: str
    label: str | None = None


@dataclass(frozen=True)
class Stimulus:
    """A checked stimulus: decodable image, true label, content hash."""

    image_id: str
    path: str
    label: str
    sha256: str


@dataclass(frozen=True)
class MethodConfig:
    key: str
    name: str
    label: str
    params: dict = field(default_factory=dict)
    randomized_model: bool = False

    def shown(self, target: str | None = None) -> ShownMethod:
        """This method as a trial draws it; ``target`` is the class explained (``None``: the prediction)."""
        return ShownMethod(key=self.key, name=self.name, label=self.label, params=dict(self.params),
                           randomized_model=self.randomized_model, target=target)


@dataclass(frozen=True)
class DecisionConfig:
    """A ``decision`` task's design (see the module docstring); ``placebo_*`` only with a ``placebo`` arm."""

    arms: tuple[str, ...]
    ai_wrong_share: float
    min_ai_confidence: float = 0.0
    variant: str = "two_step"
    advice_on_request: bool = False
    placebo_method: str | None = None
    placebo_source: str | None = None

    def n_wrong(self, trials: int) -> int:
        """AI-wrong trials per participant: the share of ``trials``, rounded to the nearest whole trial."""
        return int(round(self.ai_wrong_share * trials))


@dataclass(frozen=True)
class TaskConfig:
    name: str
    protocol: str
    checkpoint: str
    stimuli_dir: str | None
    stimuli_list: tuple[StimulusSpec, ...]
    trials: int
    learning_trials: int = 0
    k: int = 2
    display: str = "single"
    attention_checks: int = 0
    scale: tuple[int, int] = (1, 7)
    show_true_label: bool = False
    clinical_notice: bool | None = None  # None: decided from the task's names
    decision: DecisionConfig | None = None  # protocol decision only
    class_labels: dict[str, str] = field(default_factory=dict)  # class name -> what participants read
    methods: tuple[str, ...] = ()  # the study's method keys this task shows (empty: all of them)
    # Filled by the loader.
    stimuli: tuple[Stimulus, ...] = ()
    class_names: tuple[str, ...] = ()

    def class_label(self, name: str) -> str:
        """What participants read for class ``name``: the study file's ``class_labels``, else the name."""
        return class_label(self.class_labels, name)


@dataclass(frozen=True)
class Design:
    type: str  # "within" | "between"
    control: bool = False
    negative_control: str | None = None


def arm_list(method_keys, control: bool) -> tuple[str, ...]:
    """The arms rule: the methods' keys (in the file's order) and, with a no-explanation control, ``none``.
    Decision tasks name their own arms (``[[tasks]] arms``)."""
    return (*method_keys, NO_EXPLANATION) if control else tuple(method_keys)


@dataclass(frozen=True)
class Study:
    """A validated study. ``sha256`` is the file's hash: it identifies the exact version participants saw."""

    id: str
    title: str
    seed: int
    completion_code: str
    redirect_url: str | None
    consent: str
    instructions: str
    keep_external_ids: bool
    inactive_timeout_minutes: float
    blind_method_names: bool
    design: Design
    methods: tuple[MethodConfig, ...]
    tasks: tuple[TaskConfig, ...]
    pre_questionnaire: tuple[Question, ...]
    post_questionnaire: tuple[Question, ...]
    source: str = ""
    sha256: str = ""
    cache_dir: str | None = None  # resolved by the loader; None: the explanation package's default
    screened_out_code: str | None = None
    no_consent_code: str | None = None
    redirect_seconds: float = 5.0
    device: DeviceGate = DeviceGate()
    screen_out_after: int | None = None  # failed checks (attention, comprehension) ending it
    min_trial_seconds: float | None = None  # answers faster than this are flagged (never excluded)
    language: str = DEFAULT_LANGUAGE  # the catalogue of the participant-facing text (study_app.i18n)
    comprehension: tuple[Question, ...] = ()  # choice questions with ``correct``, shown under the instructions
    comprehension_retries: int = 0  # times the instructions are shown again after a wrong comprehension answer
    require_prolific_id: bool = False  # a visitor without a usable PROLIFIC_PID is not offered consent
    arm_questionnaire: tuple[Question, ...] = ()  # per-arm instruments' items, asked after each arm's block
    hive_sequence: bool = False  # HIVE: rate understanding before the trials, after them, and after a reveal
    map_colours: str = DEFAULT_MAP_COLOURS  # the maps' colour scheme (study_app.explain.colours.MAP_COLOURS)
    recruitment: Recruitment = Recruitment()  # [recruitment]: caps per condition and in total, Prolific rules

    @property
    def arms(self) -> tuple[str, ...]:
        """Method keys that rotate over images (within) or split participants (between), control included."""
        return arm_list([m.key for m in self.methods], self.design.control)

    def task_methods(self, task: TaskConfig) -> tuple[MethodConfig, ...]:
        """The methods ``task`` shows: those its ``methods`` names (in the study's order, each with its negative
        control on the weight-randomised model where the design has one), else all."""
        return tuple(m for m in self.methods if not task.methods or m.key in task.methods
                     or (m.randomized_model and m.key.removesuffix("@random") in task.methods))

    def task_arms(self, task: TaskConfig) -> tuple[str, ...]:
        """``task``'s arms (:attr:`arms` over the methods it shows; a decision task names its own)."""
        if task.decision is not None:
            return task.decision.arms
        return arm_list([m.key for m in self.task_methods(task)], self.design.control)

    def method(self, key: str) -> MethodConfig:
        for m in self.methods:
            if m.key == key:
                return m
        raise KeyError(key)

    def task(self, name: str) -> TaskConfig:
        for t in self.tasks:
            if t.name == name:
                return t
        raise KeyError(name)


def default_pre_questionnaire(_: Callable[[str], str] = N_) -> tuple[Question, ...]:
    """The pre-questionnaire a study file without one gets, its text in ``_``'s language (the parser passes
    the study's translator; answers are stored as the options read, in the study's language)."""
    return (
        Question(
            id="age_band",
            text=_("What is your age?"),
            kind="choice",
            options=("18-24", "25-34", "35-44", "45-54", "55-64", "65+", _("prefer not to say")),
        ),
        Question(
            id="ml_experience",
            text=_("How much experience do you have with machine learning?"),
            kind="choice",
            options=(_("none"), _("I have read about it"), _("I have used ML tools"), _("I build ML models")),
        ),
        Question(
            id="domain_expertise",
            text=_("How familiar are you with the kind of images in this study?"),
            kind="likert",
            low=1,
            high=5,
            options=(_("not at all"), _("expert")),
        ),
    )


DEFAULT_PRE_QUESTIONNAIRE = default_pre_questionnaire()  # in English
