"""Study rules about what a participant is shown beside the trial itself: the clinical notice and the
instructions' worked example. Pure functions of the study and its predictions; the UI only draws the result.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from study_app.explain.panels import is_panel
from study_app.i18n import N_
from study_app.study.predictions import TaskPredictions, model_class_names
from study_app.study.schema import Study
from study_app.study.steps import PHASE_MAIN, ShownMethod, TrialSpec

CLINICAL_NOTICE = N_("Research only — not for clinical use. These images and predictions must not inform any "
                     "diagnosis.")  # translated where it is shown
_MEDICAL_WORDS = re.compile(r"mri|brain|tumou?r|glioma|meningioma|pituitary|x-?ray|\bct\b|clinical|medical",
                            re.IGNORECASE)


def shows_clinical_notice(trial: TrialSpec) -> bool:
    """The task's ``clinical_notice`` setting where the study file gives one; else MRI and other medical
    tasks get the notice, judged from task, checkpoint and class names."""
    if trial.clinical_notice is not None:
        return bool(trial.clinical_notice)
    text = " ".join([trial.task, Path(trial.checkpoint).name, *trial.options, trial.true_label or ""])
    if trial.prediction is not None:
        text += " " + " ".join(label for label, _ in trial.prediction.topk)
    return bool(_MEDICAL_WORDS.search(text))


@dataclass(frozen=True)
class WorkedExample:
    """The instructions' example: a trial-like view of one stimulus with the study's first method."""

    trial: TrialSpec
    method: ShownMethod
    true_label: str
    model_wrong: bool


def _used_image_ids(items: Mapping) -> set[str]:
    used: set[str] = set()
    for groups in (items or {}).values():
        for ids in (groups.values() if isinstance(groups, dict) else [groups]):
            used.update(ids)
    return used


def choose_worked_example(study: Study, items: Mapping[str, Mapping[str, list[str]]],
                          predictions: Mapping[str, TaskPredictions]) -> WorkedExample | None:
    """A stimulus of the first task that no participant is asked about (so it cannot prime an answer),
    preferably one the model gets wrong, so the example shows how a map can expose a mistake; ``None``
    when every stimulus is used (the instructions then explain in words only)."""
    maps = [m for m in study.methods if not is_panel(m.name)]  # the example shows how a map can expose a mistake
    if not maps or not study.tasks:
        return None
    task = study.tasks[0]
    used = _used_image_ids({task.name: items.get(task.name, {})})
    preds = predictions[task.name].by_image
    unused = [s for s in task.stimuli if s.image_id not in used and s.image_id in preds]
    if not unused:
        return None
    wrong = [s for s in unused if preds[s.image_id].label != s.label]
    stim = (wrong or unused)[0]
    output = preds[stim.image_id]
    prediction = output.view()
    names = model_class_names(task, predictions[task.name])
    method = replace(maps[0].shown(), target_index=list(names).index(output.label))
    trial = TrialSpec(index=0, total=0, phase=PHASE_MAIN, task=task.name, protocol=task.protocol,
                      image_id=stim.image_id, image_path=stim.path, checkpoint=task.checkpoint,
                      true_label=stim.label, prediction=prediction, methods=(method,), options=task.class_names,
                      prompt="", clinical_notice=task.clinical_notice, class_labels=dict(task.class_labels))
    return WorkedExample(trial=trial, method=method, true_label=stim.label, model_wrong=prediction.label != stim.label)
