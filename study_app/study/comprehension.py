"""Comprehension questions: did the participant understand the instructions?

A study file's ``[[comprehension]]`` questions are ``choice`` questions with one ``correct`` option, shown
under the instructions and answered with them (the instructions step's answer, see
:func:`study_app.study.answers.validate_instructions`). What happens to a wrong answer:

* With ``comprehension_retries = N`` (default 0), the first N submits with a wrong answer store nothing but
  a ``comprehension_retry`` event (which questions were wrong, what was chosen) and show the instructions
  again (``Step.retry``), so the participant reads them once more and answers again.
* Otherwise the answers are stored (questionnaire ``comprehension``, export columns ``comprehension_<id>``)
  and the participant goes on. Each wrong answer is a failed check: with ``screen_out_after`` it counts
  together with failed attention checks (:mod:`study_app.study.screening`), so enough of them end the study
  on the spot with the screened-out page. Without the rule nothing ends; the export flags the participant
  (``failed_comprehension``, ``failed_checks``, quality flag ``comprehension``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from study_app.study.answers import answer_sha256, validate_instructions, wrong_answers
from study_app.study.screening import COMPREHENSION, FailedChecks, screen_out_due

RETRY_EVENT = "comprehension_retry"


@dataclass(frozen=True)
class InstructionsAnswer:
    """The instructions step's answer, judged.

    Attributes:
        clean: The whole validated answer (what the answer event's hash covers).
        questionnaire: The comprehension answers to store with the move on, or ``None`` (no questions).
        retry: Wrong answers with a retry left: nothing is stored but the retry event; show the step again.
        failed: The failed checks when they end the study (store the answers, then screen out), else ``None``.
    """

    clean: dict
    questionnaire: tuple[str, dict] | None = None
    retry: bool = False
    failed: FailedChecks | None = None


def check_instructions(study, repository, participant_id: int, answer: Mapping, *, study_id: int,
                       now: dt.datetime) -> InstructionsAnswer:
    """Validate and judge an answer to the instructions step (raises ``AnswerError`` when malformed)."""
    clean = validate_instructions(study.comprehension, answer)
    answers = {q.id: clean[q.id] for q in study.comprehension}
    wrong = wrong_answers(study.comprehension, answers)
    if not wrong:
        return InstructionsAnswer(clean, (COMPREHENSION, answers) if answers else None)
    if study.comprehension_retries:
        used = repository.event_count(participant_id, RETRY_EVENT)
        if used < study.comprehension_retries:
            repository.log_event(study_id, RETRY_EVENT, {"attempt": used + 1, "wrong": wrong, "answers": answers},
                                 now, participant_id=participant_id, sha256=answer_sha256(clean))
            return InstructionsAnswer(clean, retry=True)
    failed = screen_out_due(study, repository, participant_id, new_attention=0, new_comprehension=len(wrong))
    return InstructionsAnswer(clean, (COMPREHENSION, answers), failed=failed)
