"""The folders a panel method names (example pools, concept sets): resolved against the study file and checked
like stimuli.

The loader (:func:`resolve_panel_methods`) makes ``pool`` and ``concepts`` absolute and refuses what would fail in
front of a participant: a missing folder, a pool class the model of a task showing the method does not know, an
unreadable or undecodable image, fewer usable images than ``k``, a concept set without its ``random`` folder.
:func:`panel_findings` (``xai-study check``) reports the same and, as a warning, pool or concept images identical
to a stimulus (a participant would be shown the image they are judging as an "example").
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from study_app.explain.concept_sets import validate_concepts
from study_app.explain.example_pool import OVERLAP, validate_pool
from study_app.explain.panels import FOLDER_PARAMS, check_params, is_panel, resolve_folders
from study_app.study.errors import StudyFileError
from study_app.study.schema import MethodConfig, Study


def resolve_panel_methods(study: Study, base: Path) -> tuple[MethodConfig, ...]:
    """The study's methods with every panel's folder parameters absolute (against ``base``, the study file's
    folder); :class:`StudyFileError` naming ``methods[i].params.<folder>`` for a folder that does not exist."""
    methods = []
    for i, m in enumerate(study.methods):
        if is_panel(m.name):
            params = resolve_folders(m.params, base)
            for folder in FOLDER_PARAMS:
                if folder in params and not Path(params[folder]).is_dir():
                    raise StudyFileError(study.source or "<study>", f"methods[{_index(study, m, i)}].params.{folder}",
                                         f"folder not found: {params[folder]}")
            m = dataclasses.replace(m, params=params)
        methods.append(m)
    return tuple(methods)


def _index(study: Study, method: MethodConfig, i: int) -> int:
    """The ``[[methods]]`` entry a method came from (the negative control copies its base method's)."""
    base = method.key.removesuffix("@random")
    return next((j for j, m in enumerate(study.methods) if m.key == base), i)


def panel_findings(study: Study, decode: bool = True) -> list[tuple[str, str, bool]]:
    """``(field, problem, blocking)`` for every panel method's folders against the tasks that show it: blocking
    for what would fail when shown, not blocking for an image identical to a stimulus."""
    out: list[tuple[str, str, bool]] = []
    for i, m in enumerate(study.methods):
        if not is_panel(m.name) or m.randomized_model:
            continue
        params = check_params(m.name, m.params)
        tasks = [t for t in study.tasks if m in _shown(study, t)]
        where = f"methods[{i}].params"
        for task in tasks:
            k = params.get("k") if m.name == "similar_examples" else None
            shas = [s.sha256 for s in task.stimuli]
            for finding in validate_pool(params["pool"], task.class_names, k=k, stimuli_sha256=shas, decode=decode):
                out.append((f"{where}.pool", f"{finding} (task {task.name})", OVERLAP not in finding.problem))
            if m.name == "concepts":
                for finding in validate_concepts(params["concepts"], stimuli_sha256=shas):
                    out.append((f"{where}.concepts", f"{finding} (task {task.name})", OVERLAP not in finding.problem))
    return list(dict.fromkeys(out))


def _shown(study: Study, task) -> list[MethodConfig]:
    """The methods a task can show: its arms' methods (decision: with its placebo's)."""
    shown = list(study.task_methods(task)) if task.decision is None else [
        m for m in study.methods if m.key in task.decision.arms or m.key == task.decision.placebo_method]
    return shown


def require_panel_folders(study: Study) -> None:
    """Raises the first blocking :func:`panel_findings` as a :class:`StudyFileError` (for the loader)."""
    for field, problem, blocking in panel_findings(study):
        if blocking:
            raise StudyFileError(study.source or "<study>", field, problem)
