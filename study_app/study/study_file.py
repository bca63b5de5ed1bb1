"""The one way tools read a study file: its bytes, hash and TOML tables (:func:`read_study_file`), the study as
the parser sees it without loading images or models (:func:`parse_study_file`), and the arms rule for a task
read straight from the file (:func:`file_arms`), which tools use so a protocol this version does not parse yet
still gets power analyses and scripts.

Every failure is a :class:`~study_app.study.errors.StudyFileError` naming the file (and the field)."""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study_app.study.errors import StudyFileError
from study_app.study.parser import parse_study
from study_app.study.schema import Study, arm_list


@dataclass(frozen=True)
class StudyFileText:
    """A study file as read: its path (resolved), bytes, SHA-256 and TOML tables."""

    path: Path
    raw: bytes
    data: dict[str, Any]

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def study_table(self) -> dict[str, Any]:
        table = self.data.get("study")
        return table if isinstance(table, dict) else {}


def read_study_file(path: str | Path) -> StudyFileText:
    """Read and decode the study file at ``path`` (TOML, UTF-8)."""
    path = Path(path).resolve()
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise StudyFileError(source, "", f"cannot read study file ({exc.strerror or exc})") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise StudyFileError(source, "", f"not UTF-8 text ({exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise StudyFileError(source, "", f"not valid TOML: {exc}") from exc
    return StudyFileText(path, raw, data)


def parse_study_file(path: str | Path) -> Study:
    """The study as the parser reads it, without loading images or models (texts kept in ``consent_file`` /
    ``instructions_file`` stand in empty, unread): for tools that need its settings, not its stimuli."""
    text = read_study_file(path)
    table = text.study_table
    return parse_study(text.data, source=str(text.path), consent="" if "consent_file" in table else None,
                       instructions="" if "instructions_file" in table else None)


def file_arms(data: dict[str, Any], task: dict[str, Any]) -> list[str]:
    """A task's arms as the study file gives them: the task's or the design's own list, else the methods the task
    shows (its ``methods``, else all; with the negative control's ``<method>@random``) and ``none`` with a control
    (:func:`study_app.study.schema.arm_list`)."""
    design = data.get("design", {}) if isinstance(data.get("design"), dict) else {}
    explicit = task.get("arms") or design.get("arms")
    if explicit:
        return [a if isinstance(a, str) else a.get("key") or a.get("name") for a in explicit]
    shown = task.get("methods") if isinstance(task.get("methods"), list) else None
    methods = [k for m in data.get("methods", []) for k in [m.get("key") or m["name"]] if shown is None or k in shown]
    if design.get("negative_control") and (shown is None or design["negative_control"] in shown):
        methods.append(f"{design['negative_control']}@random")
    return list(arm_list(methods, bool(design.get("control"))))
