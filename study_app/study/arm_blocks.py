"""Per-arm questionnaires (``placement = "per_arm"``): which arm a trial belongs to, the blocks of trials of one
arm, and the questions asked after each block about that arm.

A per-arm instrument is asked once per arm the participant worked with, right after the last trial of that arm:

* **between subjects** every trial of a participant has the participant's arm, so it is asked once, after the
  trials (like ``after_trials``), and its scores are that arm's;
* **within subjects** the arms rotate over the images and the trials are shuffled, so arms are interleaved: a
  study with per-arm questions has its trials **blocked by arm** instead (:func:`block_by_arm`, called by
  :func:`study_app.study.design.build_plan`). The order of the blocks rotates with the Latin-square row (row
  ``r`` starts with arm ``r``), so over the conditions each arm comes first, second, ... equally often (a
  cyclic Latin square of block orders: position is balanced, carry-over from one particular arm is not). Within a
  block the trials keep their shuffled order; a forward-simulation task's learning trials of an arm come before
  its test trials. An attention check belongs to the trial after it (the last one: to the trial before it).

The answers are stored as the questionnaire ``arm`` with question ids ``<arm>_<item id>`` (no schema change),
so the participants export has them as ``arm_<arm>_<id_prefix>_<key>`` and the scores as
``arm_<arm>_<id_prefix>_<score>`` (:mod:`study_app.export.instrument_columns`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from study_app.study.steps import Question

ARM_SECTION = "arm"  # the stored questionnaire name of per-arm answers (questionnaire_answers.questionnaire)
STEP_PREFIX = "arm_questionnaire:"  # + the arm: the step id of the questionnaire after that arm's block
MAX_QUESTION_ID = 64  # questionnaire_answers.question_id


def trial_arm(step: Any) -> str:
    """The arm a trial step belongs to: a decision trial's advice arm, else the arms it shows joined by ``+``
    (one arm, or the control ``none``, for every design per-arm questions allow)."""
    advice = getattr(step, "advice", None)
    return advice.arm if advice is not None else "+".join(step.arms)


def block_by_arm(trials: Sequence[Sequence[Any]], order: Sequence[str]) -> list[list[Any]]:
    """``trials`` (each a list of its phase steps, in the participant's order) grouped into one block per arm,
    blocks in ``order`` (arms not named there last), the trials of a block in their given order. An attention
    check moves with the trial after it (trailing checks: with the trial before them)."""
    units: list[list[list[Any]]] = []
    pending: list[list[Any]] = []
    for trial in trials:
        pending.append(list(trial))
        if not trial[0].is_attention_check:
            units.append(pending)
            pending = []
    if pending:
        if units:
            units[-1].extend(pending)
        else:
            return [list(t) for t in trials]
    rank = {arm: i for i, arm in enumerate(order)}

    def arm_of(unit: list[list[Any]]) -> str:
        return trial_arm(next(t for t in unit if not t[0].is_attention_check)[0])

    ordered = sorted(units, key=lambda unit: rank.get(arm_of(unit), len(rank)))
    return [trial for unit in ordered for trial in unit]


def block_ends(trial_steps: Sequence[Any]) -> list[tuple[str, int]]:
    """``(arm, index)`` per arm, in the order asked: the per-arm questionnaire of ``arm`` comes right after
    ``trial_steps[index]``, the last step of the arm's last trial that is not an attention check; the arm
    whose trials end last is asked after every trial (attention checks at the end included)."""
    last: dict[str, int] = {}
    trial_end: dict[int, int] = {}  # trial number -> index of its last step
    arm_of_trial: dict[int, str] = {}
    for i, step in enumerate(trial_steps):
        trial_end[step.trial] = i
        if not step.is_attention_check:
            arm_of_trial[step.trial] = trial_arm(step)
    for trial, arm in arm_of_trial.items():
        last[arm] = max(last.get(arm, -1), trial_end[trial])
    if not last:
        return []
    final = max(last, key=last.get)
    last[final] = len(trial_steps) - 1
    return sorted(last.items(), key=lambda item: item[1])


def arm_question_id(arm: str, question_id: str) -> str:
    """The stored id of item ``question_id`` asked about ``arm``."""
    return f"{arm}_{question_id}"


def arm_questions(questions: Sequence[Question], arm: str) -> tuple[Question, ...]:
    """The per-arm items as asked after ``arm``'s block: the same text, the id carrying the arm."""
    return tuple(replace(q, id=arm_question_id(arm, q.id)) for q in questions)


def arm_of_step_id(step_id: str) -> str | None:
    """The arm a per-arm questionnaire step id names; ``None`` for any other step."""
    return step_id[len(STEP_PREFIX):] if step_id.startswith(STEP_PREFIX) else None
