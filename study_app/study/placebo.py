"""The ``decision`` protocol's placebo: a map that looks like a real one of the shown image and is not.

A placebo arm (Buçinca et al. 2021's "placebic" explanation) separates what an explanation says from the mere
presence of a map, so it must look exactly like the real method's maps: the same method, the same class, drawn
over the **shown image's own photo** in the same renderer. Only where the attribution comes from differs:

* ``randomized_model``: the method's map of the shown image on the weight-randomised model (Adebayo et al.
  2018), explaining the class the advice names (the model's prediction on the shown image).
* ``other_image``: the method's map, for that same class, of *another* stimulus of the task, resampled onto
  the shown image (the map service draws it over the trial's photo). The source is drawn from the other
  stimuli the model predicts as that class where there is one (their top-1 map is then a natural map of the
  class, already precomputed), else from all other stimuli (maps of the class they were not predicted as:
  :func:`study_app.maps.coverage.required_maps` lists those too). Never the shown image itself.

Whether a task's stimuli can supply its placebo is checked with the other design checks:
:func:`placebo_problems` (``xai-study check``) and :func:`require_placebos` (the engine refuses to start).
"""

from __future__ import annotations

import random
from dataclasses import replace

from study_app.study.errors import StudyFileError
from study_app.study.predictions import TaskPredictions
from study_app.study.schema import MethodConfig, Study, TaskConfig
from study_app.study.steps import PLACEBO_OTHER_IMAGE


def shuffled_placebo(method: MethodConfig) -> MethodConfig:
    """The ``shuffled`` placebo of a concepts method: the same panel of the shown image's class with the scores
    (and their significance marks) permuted over the concepts, seeded by the shown image
    (:func:`study_app.explain.concepts.shuffled`); drawn like the real one, labelled as its method."""
    return replace(method, params={**method.params, "shuffled": True})


def source_candidates(task: TaskConfig, preds: TaskPredictions, image_id: str) -> list[str]:
    """The stimuli an ``other_image`` placebo of ``image_id`` may take its map from, sorted: the other stimuli
    with the same predicted class where any exists, else every other stimulus; empty with one stimulus."""
    target = preds.by_image[image_id].label
    others = sorted(s.image_id for s in task.stimuli if s.image_id != image_id)
    same = [i for i in others if preds.by_image[i].label == target]
    return same or others


def choose_source(task: TaskConfig, preds: TaskPredictions, image_id: str, rng: random.Random) -> str:
    """The stimulus whose map the placebo of ``image_id`` shows, drawn with the participant's ``rng``."""
    candidates = source_candidates(task, preds, image_id)
    if not candidates:  # refused before any plan is built (require_placebos); never fall back to the real map
        raise ValueError(f"task {task.name}: no other stimulus to take {image_id}'s placebo map from")
    return rng.choice(candidates)


def placebo_problems(study: Study) -> list[StudyFileError]:
    """One error per decision task whose stimuli cannot supply its placebo, naming the task's ``placebo``
    field: ``other_image`` needs at least two stimuli (a map of another image for every shown one)."""
    problems = []
    for i, task in enumerate(study.tasks):
        cfg = task.decision
        if cfg is None or cfg.placebo_source != PLACEBO_OTHER_IMAGE:
            continue
        if len(task.stimuli) < 2:
            problems.append(StudyFileError(
                study.source, f"tasks[{i}].placebo",
                f"source \"{PLACEBO_OTHER_IMAGE}\" shows another stimulus's map, but task {task.name} has fewer "
                "than two stimuli; add stimuli or use source \"randomized_model\""))
    return problems


def require_placebos(study: Study) -> None:
    """Raises the first of :func:`placebo_problems`, if any."""
    problems = placebo_problems(study)
    if problems:
        raise problems[0]
