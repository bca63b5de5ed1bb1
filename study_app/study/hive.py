"""The HIVE sequence (``[study] hive_sequence = true``): self-rated understanding before the task, again after it,
then a reveal of the participant's own accuracy with the rating once more.

As in HIVE (Kim, Meister, Ramaswamy, Fong & Russakovsky 2022, "HIVE: Evaluating the Human Interpretability of
Visual Explanations", ECCV; the question and its five answers from the study's published task pages,
github.com/princetonvisualai/HIVE, ``hit_templates/combined_*.html``): "How well do you think you understand the
model's reasoning process?", 1 = Very poor ... 5 = Very good, asked after the method introduction (here: after the
instructions, before the first trial), after the task, and on the page that shows the participant's performance
("You correctly selected ... for X out of Y photos ..."; here: "You were right on X of Y images (Z %).", the word the trial pages use). HIVE
labels every point (Very Poor, Poor, Fair, Good, Very Good); the app's scale shows the two end labels.

The accuracy is the engine's, from the participant's stored answers scored by their protocol
(:func:`study_app.study.answers.score_trial`, the export's ``correct``): a trial counts when a phase of it has a
right answer (its last such phase decides; attention checks and learning trials do not count). Only protocols
that score answers can reveal one (:func:`check_hive`).

Stored without a schema change: ``pre`` ``hive_understanding`` (before), ``post`` ``hive_understanding`` (after
the task), ``post`` ``hive_understanding_revealed`` with what was revealed (``hive_revealed_correct``,
``hive_revealed_trials``). The export adds the changes (:mod:`study_app.export.instrument_columns`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from study_app.i18n import N_
from study_app.study import answers as answer_checks
from study_app.study.errors import StudyFileError
from study_app.study.protocols import protocol_of
from study_app.study.steps import HIVE_AFTER, HIVE_BEFORE, HIVE_REVEAL, Question

ITEM = "hive_understanding"
REVEALED = "hive_understanding_revealed"
REVEALED_CORRECT = "hive_revealed_correct"
REVEALED_TRIALS = "hive_revealed_trials"
QUESTION = N_("How well do you think you understand the model's reasoning process?")
ANCHORS = (N_("Very poor"), N_("Very good"))
# The export's columns of the ratings (1-5) and of their changes: change column -> (later rating, earlier rating)
RATINGS = {"before": f"pre_{ITEM}", "after the task": f"post_{ITEM}", "after the reveal": f"post_{REVEALED}"}
CHANGES = {"hive_change_after_task": (f"post_{ITEM}", f"pre_{ITEM}"),
           "hive_change_after_reveal": (f"post_{REVEALED}", f"pre_{ITEM}"),
           "hive_change_at_reveal": (f"post_{REVEALED}", f"post_{ITEM}")}
# (questionnaire it is stored in, question id) per HIVE stage
STORED_AS = {HIVE_BEFORE: ("pre", ITEM), HIVE_AFTER: ("post", ITEM), HIVE_REVEAL: ("post", REVEALED)}


def check_hive(study: Any) -> None:
    """Refuse ``hive_sequence`` where a task's answers have no right answer (nothing to reveal) or a questionnaire
    already uses one of its ids. Raises :class:`StudyFileError` naming ``study.hive_sequence``."""
    if not study.hive_sequence:
        return
    for task in study.tasks:
        if protocol_of(task.protocol).outcome is None:
            raise StudyFileError(study.source, "study.hive_sequence", f"task {task.name!r} uses the "
                                 f"{task.protocol!r} protocol, whose answers have no right answer: there is no "
                                 "accuracy to reveal")
    taken = {q.id for q in (*study.pre_questionnaire, *study.post_questionnaire)} & {ITEM, REVEALED}
    if taken:
        raise StudyFileError(study.source, "study.hive_sequence", f"the questionnaires already use the id "
                             f"{sorted(taken)[0]!r}, which the HIVE rating is stored under")


def question(gettext: Callable[[str], str], *, question_id: str = ITEM) -> Question:
    """The HIVE rating in the study's language."""
    return Question(id=question_id, text=gettext(QUESTION), kind="likert", low=1, high=5,
                    options=tuple(gettext(a) for a in ANCHORS))


def own_accuracy(trial_steps: Sequence[Any], stored: Callable[[int, str], dict | None]) -> tuple[int, int]:
    """``(right, scored)``: of the trials with a scored phase, how many the participant got right (its last scored
    phase decides), from ``stored(trial, phase)`` (the participant's stored answer) scored by the protocol."""
    last: dict[int, bool] = {}
    for step in trial_steps:
        if step.is_attention_check:
            continue
        answer = stored(step.trial, step.phase)
        if answer is None:
            continue
        correct, _ = answer_checks.score_trial(step, answer)
        if correct is not None:
            last[step.trial] = bool(correct)
    return sum(last.values()), len(last)


def reveal_text(translate: Any, right: int, scored: int) -> str:
    """What the reveal page says, in the study's language (``translate``: its translator)."""
    if scored == 0:
        return translate.gettext("None of your answers could be scored.")
    share = translate.percent(right / scored)
    return translate.ngettext("You were right on {right} of {total} image ({percent}).",
                              "You were right on {right} of {total} images ({percent}).",
                              scored).format(right=right, total=scored, percent=share)


def stored_answer(kind: str, clean: dict, accuracy: tuple[int, int] | None) -> tuple[str, dict]:
    """``(questionnaire, answers)`` to store for HIVE stage ``kind``: the rating under its id, and on the reveal
    what was revealed."""
    section, qid = STORED_AS[kind]
    out = {qid: clean[ITEM]}
    if kind == HIVE_REVEAL and accuracy is not None:
        out |= {REVEALED_CORRECT: accuracy[0], REVEALED_TRIALS: accuracy[1]}
    return section, out
