"""Load a study file from disk: parse it, resolve its paths, and check every stimulus and checkpoint.

Everything that can be wrong with a study is found here, before the first participant arrives: a corrupt
or oversized image, a label the model does not know, a checkpoint folder that is not one, a task asking
for more trials than it has images.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

from study_app.study.errors import StudyFileError, StudyFileErrors
from study_app.study.panel_folders import require_panel_folders, resolve_panel_methods
from study_app.study.parser import parse_study
from study_app.study.protocols import protocol_of
from study_app.study.schema import Stimulus, Study, TaskConfig
from study_app.study.study_file import read_study_file
from trainers.checkpoint import CheckpointError, read_card
from trainers.images import class_folders, image_files, usable_image


class UnreadableStimuli(StudyFileError):
    """Stimulus files that cannot be read or decoded: all of them, each with its reason (``problems``)."""

    def __init__(self, source: str, problems: list[tuple[str, str, str]]):
        self.problems = problems  # (task field, file, reason)
        lines = "".join(f"\n  {where}: {file}: {reason}" for where, file, reason in problems)
        fields = {where for where, _, _ in problems}
        field = fields.pop() if len(fields) == 1 else "stimuli"
        super().__init__(source, field, f"{len(problems)} unreadable stimulus file(s):{lines}")


def load_study(path: str | Path, *, check_images: bool = True) -> Study:
    """Read, validate and resolve a study file.

    Args:
        path: The ``.toml`` study file. Relative paths inside it are relative to its folder.
        check_images: Decode every stimulus (EXIF rotation, mode conversion, decompression-bomb limit).
            Leave on except in tools that only need the schema: a broken image must fail here, not in
            front of a participant.

    Returns:
        The study, with stimuli listed and hashed and each task's class names read from its checkpoint.

    Raises:
        StudyFileError: naming the file and the field (or stimulus file) that is wrong.
    """
    text = read_study_file(path)
    path, source, data = text.path, str(text.path), text.data
    base = path.parent
    study_table = text.study_table
    consent = _read_text_file(source, base, study_table, "consent_file")
    instructions = _read_text_file(source, base, study_table, "instructions_file")
    study = parse_study(data, source, consent=consent, instructions=instructions)
    tasks, unreadable, errors = [], [], []
    for i, task in enumerate(study.tasks):  # keep going: the researcher fixes every task and file in one pass
        try:
            tasks.append(_resolve_task(source, f"tasks[{i}]", base, task, check_images))
        except UnreadableStimuli as exc:
            unreadable += exc.problems
        except StudyFileError as exc:
            errors.append(exc)
    if unreadable:
        errors.append(UnreadableStimuli(source, unreadable))
    StudyFileErrors.raise_if_any(errors)
    tasks = tuple(tasks)
    cache_dir = str((base / study.cache_dir).resolve()) if study.cache_dir else None
    study = dataclasses.replace(study, methods=resolve_panel_methods(study, base), tasks=tasks, sha256=text.sha256,
                                cache_dir=cache_dir)
    if check_images:  # example and concept folders are checked like stimuli
        require_panel_folders(study)
    return study


def _read_text_file(source: str, base: Path, table: dict, key: str) -> str | None:
    name = table.get(key)
    if name is None:
        return None
    if not isinstance(name, str) or not name.strip():
        raise StudyFileError(source, f"study.{key}", "must be a file path")
    file = base / name
    try:
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise StudyFileError(source, f"study.{key}", f"cannot read {file}: {exc}") from exc


def _resolve_task(source: str, where: str, base: Path, task: TaskConfig, check_images: bool) -> TaskConfig:
    checkpoint = (base / task.checkpoint).resolve()
    try:
        card = read_card(checkpoint)
    except CheckpointError as exc:
        raise StudyFileError(source, f"{where}.checkpoint", str(exc)) from exc
    class_names = tuple(card["class_names"])
    stimuli = _list_stimuli(source, where, base, task, check_images)
    unknown = sorted({s.label for s in stimuli} - set(class_names))
    if unknown:
        raise StudyFileError(source, f"{where}.stimuli",
                             f"label(s) {', '.join(unknown)} are not classes of the checkpoint "
                             f"({', '.join(class_names)})")
    _check_class_labels(source, where, task, class_names)
    protocol = protocol_of(task.protocol)
    needed = task.trials + task.learning_trials
    if needed > len(stimuli):
        raise StudyFileError(source, f"{where}.{protocol.count_field(task)}",
                             f"asks for {needed} distinct images but the task has {len(stimuli)}")
    for field, problem in protocol.check_loaded(task, class_names):
        raise StudyFileError(source, f"{where}.{field}", problem)
    return dataclasses.replace(task, checkpoint=str(checkpoint), stimuli=stimuli, class_names=class_names)


def _check_class_labels(source: str, where: str, task: TaskConfig, class_names: tuple[str, ...]) -> None:
    """``class_labels`` names only the model's classes, and every one of them (a class left out would show
    its raw name among translated ones)."""
    if not task.class_labels:
        return
    unknown = [k for k in task.class_labels if k not in class_names]
    if unknown:
        raise StudyFileError(source, f"{where}.class_labels", f"{', '.join(map(repr, unknown))} not a class of the "
                                                              f"checkpoint ({', '.join(class_names)})")
    missing = [c for c in class_names if c not in task.class_labels]
    if missing:
        raise StudyFileError(source, f"{where}.class_labels", f"names no label for {', '.join(map(repr, missing))}; "
                                                              "give every class of the model one")


def _list_stimuli(source: str, where: str, base: Path, task: TaskConfig, check_images: bool) -> tuple[Stimulus, ...]:
    entries: list[tuple[str, Path, str]] = []  # (image_id, path, label)
    missing: list[tuple[str, str, str]] = []  # (field, file, reason), reported with the undecodable ones
    if task.stimuli_dir is not None:
        root = (base / task.stimuli_dir).resolve()
        if not root.is_dir():
            raise StudyFileError(source, f"{where}.stimuli", f"{root} is not a folder")
        for class_dir in class_folders(root):
            entries += [(f"{class_dir.name}/{file.name}", file, class_dir.name) for file in image_files(class_dir)]
        if not entries:
            raise StudyFileError(source, f"{where}.stimuli", f"{root} has no class folders with images")
    else:
        for i, spec in enumerate(task.stimuli_list):
            file = (base / spec.path).resolve()
            if not file.is_file():
                missing.append((f"{where}.stimuli[{i}].path", str(file), "file not found"))
                continue
            entries.append((spec.path, file, spec.label or ""))
        ids = [e[0] for e in entries]
        for i, image_id in enumerate(ids):
            if image_id in ids[:i]:
                raise StudyFileError(source, f"{where}.stimuli[{i}].path", f"{image_id} is listed twice")
    stimuli, problems = [], missing
    for image_id, file, label in entries:
        digest, reason = usable_image(file, check_images)
        if reason is not None:
            problems.append((f"{where}.stimuli", str(file), reason))
        else:
            stimuli.append(Stimulus(image_id=image_id, path=str(file), label=label, sha256=digest))
    if problems:
        raise UnreadableStimuli(source, problems)
    return tuple(stimuli)
