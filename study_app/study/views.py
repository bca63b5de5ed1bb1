"""What crosses the engine's edge, checked or trimmed: URL parameters in, a trial's participant view out.

Kept apart from the state machine (:mod:`study_app.study.engine`) because both are pure functions of
their input: the external ids a visitor's URL carries, and what a stored plan step lets the participant see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from study_app.study.completion import expects_prolific_id
from study_app.study.plan import TrialStep
from study_app.study.protocols import protocol_of
from study_app.study.steps import PHASE_FINAL, Step, TrialSpec, asks_first

# URL parameter -> participants column. Prolific appends these to the study URL.
EXTERNAL_ID_PARAMS = {"PROLIFIC_PID": "prolific_pid", "STUDY_ID": "prolific_study_id", "SESSION_ID": "prolific_session_id"}
MAX_EXTERNAL_ID = 128
REFUSED_IDS, NO_PROLIFIC_ID = "external_ids_refused", "no_prolific_id"  # keys of the consent event's detail


@dataclass(frozen=True)
class ExternalIds:
    """The usable Prolific ids a URL carried (``ids``: participants column -> value) and the parameters it
    carried unusable (``refused``: parameter -> reason; never the value). Falsy when the URL carried neither."""

    ids: Mapping[str, str] = field(default_factory=dict)
    refused: Mapping[str, str] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.ids or self.refused)

    @property
    def has_prolific_pid(self) -> bool:
        return bool(self.ids.get("prolific_pid"))

    def lack_required_id(self, study, *, pilot: bool = False) -> bool:
        """The study requires a ``PROLIFIC_PID`` (``require_prolific_id``) and these ids hold no usable one:
        such a visitor is not offered consent. The pilot link is the researcher's own run and needs none."""
        return bool(study.require_prolific_id) and not pilot and not self.has_prolific_pid

    def notes(self, study, *, pilot: bool = False) -> dict:
        """What the consent record keeps about the ids (parameter names and reasons, never values): refused
        ones, and a missing ``PROLIFIC_PID`` where the study expects one (:func:`expects_prolific_id`; not for
        a pilot run). :mod:`study_app.study.quality` turns both into flags."""
        notes: dict = {REFUSED_IDS: dict(self.refused)} if self.refused else {}
        if expects_prolific_id(study) and not pilot and not self.has_prolific_pid:
            notes[NO_PROLIFIC_ID] = True
        return notes


def _refusal(value: object) -> str | None:
    """Why an external id cannot be used (``None``: it can, once stripped)."""
    if not isinstance(value, str):
        return f"expected text, got {type(value).__name__}"
    value = value.strip()
    if not value:
        return "blank"
    if len(value) > MAX_EXTERNAL_ID:
        return f"longer than {MAX_EXTERNAL_ID} characters"
    if not value.isprintable():
        return "control or other unprintable characters"
    return None


def normalise_external_ids(external_ids: Mapping[str, object] | None) -> ExternalIds:
    """Keep the Prolific parameters that are printable text of at most 128 characters; name the others.

    Streamlit hands query parameters as strings (or lists for repeats; the last one wins). Anything else
    in the mapping (other URL parameters) is ignored, so arbitrary URLs cannot write to the database. One
    unusable id never costs the usable ones: the participant can still be matched, and the refusal is noted.
    """
    clean: dict[str, str] = {}
    refused: dict[str, str] = {}
    for param, column in EXTERNAL_ID_PARAMS.items():
        value = (external_ids or {}).get(param)
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
        if value is None or value == "":
            continue
        reason = _refusal(value)
        if reason is None:
            clean[column] = value.strip()
        else:
            refused[param] = reason
    return ExternalIds(clean, refused)




def trial_spec(step: TrialStep, total: int, class_labels: Mapping[str, Mapping[str, str]] | None = None) -> TrialSpec:
    """The participant-facing view of a plan step (drops scoring data such as model correctness). A decision
    trial's only answer (:attr:`TrialSpec.sole_answer`) is asked with the prompt of an answer of one's own.
    ``class_labels``: the plan's (task -> class -> what the participant reads)."""
    sole = (step.phase == PHASE_FINAL and step.advice is not None
            and not asks_first(step.advice.arm, step.advice.variant))
    return TrialSpec(
        index=step.trial, total=total, phase=step.phase, task=step.task, protocol=step.protocol,
        image_id=step.image_id, image_path=step.image_path, checkpoint=step.checkpoint,
        true_label=step.true_label if step.show_true_label else None,
        prediction=None if step.prediction is None else step.prediction.view(),
        methods=tuple(m.shown() for m in step.maps), options=step.options,
        prompt=protocol_of(step.protocol).prompt(step.phase, sole), show_true_label=step.show_true_label,
        is_attention_check=step.is_attention_check, attention_prompt=step.attention_prompt,
        scale=step.scale, clinical_notice=step.clinical_notice,
        advice_on_request=step.phase == PHASE_FINAL and step.advice is not None and step.advice.on_request,
        sole_answer=sole, class_labels=dict((class_labels or {}).get(step.task, {})),
    )


def with_stored_answers(step: Step, stored_answer: Callable[[int, str], Mapping | None]) -> Step:
    """``step`` with what its protocol shows of the participant's earlier answers (a two-step decision trial's
    ``final`` phase: the first answer; ``stored_answer(trial_index, phase)``: the stored answer, or ``None``)."""
    if step.trial is None:
        return step
    return protocol_of(step.trial.protocol).with_stored_answers(step, stored_answer)
