"""What a study needs for per-arm questionnaires (``placement = "per_arm"``, :mod:`study_app.study.arm_blocks`),
checked when the study file is read; each refusal names the field and says why."""

from __future__ import annotations

from study_app.study.arm_blocks import MAX_QUESTION_ID, arm_question_id
from study_app.study.decision import arm_sets
from study_app.study.errors import StudyFileError
from study_app.study.schema import Study


def check_per_arm(study: Study, field: str) -> None:
    """Refuse per-arm items (``field``: the first per-arm entry's ``placement``) where a trial does not belong to
    one arm, where several arm lists split the participants (which arm would a block be about?), where a within
    design has several tasks (each task's arms would be blocked and asked about again), or where an item's id with
    the longest arm would not fit the store."""
    if not study.arm_questionnaire:
        return
    for i, task in enumerate(study.tasks):
        if task.display == "side_by_side":
            raise StudyFileError(study.source, f"tasks[{i}].display", "'side_by_side' shows every arm on each trial, "
                                 "so no block of trials belongs to one arm: per_arm questionnaires need 'single'")
    sets = arm_sets(study)
    if len(sets) > 1:
        lists = " and ".join("[" + ", ".join(arms) + "]" for arms in sets)
        raise StudyFileError(study.source, field, f"'per_arm' needs one list of arms, but the tasks use {lists}: "
                             "ask it 'after_trials', or give the tasks the same arms")
    if study.design.type == "within" and len(study.tasks) > 1:
        raise StudyFileError(study.source, field, "'per_arm' in a within-subjects study needs a single task: its "
                             "trials are blocked by arm, and with several tasks each arm would be asked about once "
                             "per task")
    arms = sets[0] if sets else ()
    for q in study.arm_questionnaire:
        for arm in arms:
            if len(arm_question_id(arm, q.id)) > MAX_QUESTION_ID:
                raise StudyFileError(study.source, field, f"the item id {arm_question_id(arm, q.id)!r} (arm + '_' "
                                     f"+ item id) is longer than {MAX_QUESTION_ID} characters: use a shorter id_prefix")
