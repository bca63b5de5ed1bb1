"""What crosses the engine's edge, checked or trimmed: URL parameters in, a trial's participant view out.

Kept apart from the state machine (:mod:`study_app.study.engine`) because both are pure functions of
their input: the external ids a visitor's URL carries, and what a stored plan step lets the participant see.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from study_app.study.design import PROMPTS
from study_app.study.plan import TrialStep
from study_app.study.steps import DECISION, PHASE_FINAL, PHASE_INITIAL, Step, TrialSpec, asks_first

# URL parameter -> participants column. Prolific appends these to the study URL.
EXTERNAL_ID_PARAMS = {"PROLIFIC_PID": "prolific_pid", "STUDY_ID": "prolific_study_id", "SESSION_ID": "prolific_session_id"}
MAX_EXTERNAL_ID = 128


def normalise_external_ids(external_ids: Mapping[str, object] | None) -> dict[str, str]:
    """Keep the Prolific parameters, checked: printable text of at most 128 characters.

    Streamlit hands query parameters as strings (or lists for repeats; the last one wins). Anything else
    in the mapping (other URL parameters) is ignored, so arbitrary URLs cannot write to the database.

    Raises:
        ValueError: naming the parameter whose value is unusable.
    """
    clean: dict[str, str] = {}
    for param, column in EXTERNAL_ID_PARAMS.items():
        value = (external_ids or {}).get(param)
        if isinstance(value, (list, tuple)):
            value = value[-1] if value else None
        if value is None or value == "":
            continue
        if not isinstance(value, str):
            raise ValueError(f"URL parameter {param}: expected text, got {type(value).__name__}")
        value = value.strip()
        if not value or len(value) > MAX_EXTERNAL_ID or not value.isprintable():
            raise ValueError(f"URL parameter {param}: must be 1-{MAX_EXTERNAL_ID} printable characters")
        clean[column] = value
    return clean


def trial_spec(step: TrialStep, total: int) -> TrialSpec:
    """The participant-facing view of a plan step (drops scoring data such as model correctness). A decision
    trial's only answer (:attr:`TrialSpec.sole_answer`) is asked with the prompt of an answer of one's own."""
    sole = (step.phase == PHASE_FINAL and step.advice is not None
            and not asks_first(step.advice.arm, step.advice.variant))
    return TrialSpec(
        index=step.trial, total=total, phase=step.phase, task=step.task, protocol=step.protocol,
        image_id=step.image_id, image_path=step.image_path, checkpoint=step.checkpoint,
        true_label=step.true_label if step.show_true_label else None,
        prediction=None if step.prediction is None else step.prediction.view(),
        methods=tuple(m.shown() for m in step.maps), options=step.options,
        prompt=PROMPTS[(step.protocol, PHASE_INITIAL if sole else step.phase)], show_true_label=step.show_true_label,
        is_attention_check=step.is_attention_check, attention_prompt=step.attention_prompt,
        scale=step.scale, clinical_notice=step.clinical_notice,
        advice_on_request=step.phase == PHASE_FINAL and step.advice is not None and step.advice.on_request,
        sole_answer=sole,
    )


def with_first_answer(step: Step, stored_answer: Callable[[int, str], Mapping | None]) -> Step:
    """``step`` with, on a two-step decision trial's ``final`` phase, the participant's first answer for the page
    to show (``stored_answer(trial_index, phase)``: the stored answer, or ``None``)."""
    trial = step.trial
    if trial is None or trial.protocol != DECISION or trial.phase != PHASE_FINAL or trial.sole_answer:
        return step
    answer = stored_answer(trial.index, PHASE_INITIAL) or {}
    return replace(step, trial=replace(trial, first_answer=answer.get(PHASE_INITIAL),
                                       first_confidence=answer.get(f"confidence_{PHASE_INITIAL}")))
