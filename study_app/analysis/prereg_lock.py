"""The pre-registration's lock: ``prereg.json`` records the registered study file's SHA-256, a hash of each of its
top-level TOML tables (and of each key of a table, ``study.title``, and each entry of an array of tables,
``tasks[0]``), and the analysis scripts'
SHA-256; :func:`deviation` compares a study file with it and names what changed.

Where a study's ``prereg.json`` is looked for (:func:`find_lock`): beside the study file, then in ``prereg/``
beside it (where ``xai-study prereg`` writes by default). A ``prereg.json`` registered for another study id is
not this study's and is passed over. Texts kept in other files (``consent_file``, ``instructions_file``) are not
part of the study file's hash: the lock covers the study file and the scripts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study_app.study.study_file import read_study_file

LOCK_NAME = "prereg.json"
LOCK_VERSION = 1


def sha256_file(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _digest(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def table_hashes(data: dict[str, Any]) -> dict[str, str]:
    """``{table: hash}`` for each top-level table of the parsed TOML; a table also gets one entry per key
    (``study.title``) and an array of tables one per element (``tasks[0]``), so what changed is named."""
    hashes: dict[str, str] = {}
    for name, value in data.items():
        hashes[name] = _digest(value)
        if isinstance(value, list) and all(isinstance(v, dict) for v in value):
            hashes.update({f"{name}[{i}]": _digest(v) for i, v in enumerate(value)})
        elif isinstance(value, dict):
            hashes.update({f"{name}.{key}": _digest(v) for key, v in value.items()})
    return hashes


def lock_record(study_path: str | Path, scripts: dict[str, Path], written_at: str) -> dict[str, Any]:
    """What ``prereg.json`` holds for the study file at ``study_path`` and the written ``scripts``."""
    text = read_study_file(study_path)
    return {"version": LOCK_VERSION, "tool": "xai-study prereg", "written_at": written_at,
            "study_file": text.path.name, "study_id": text.study_table.get("id"), "study_sha256": text.sha256,
            "tables": table_hashes(text.data),
            "scripts": {name: sha256_file(path) for name, path in scripts.items()}}


def write_lock(out_dir: Path, record: dict[str, Any]) -> Path:
    path = out_dir / LOCK_NAME
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return path


def find_lock(study_path: str | Path) -> Path | None:
    """This study's ``prereg.json`` beside the study file or in ``prereg/`` beside it (``None``: none)."""
    study_path = Path(study_path).resolve()
    try:
        study_id = read_study_file(study_path).study_table.get("id")
    except ValueError:
        study_id = None
    for candidate in (study_path.parent / LOCK_NAME, study_path.parent / "prereg" / LOCK_NAME):
        try:
            record = json.loads(candidate.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and (study_id is None or record.get("study_id") in (None, study_id)):
            return candidate
    return None


@dataclass(frozen=True)
class Deviation:
    """A study file compared with its registration: ``registered`` is False when none was found."""

    registered: bool
    lock_path: Path | None = None
    matches: bool = False
    changed: tuple[str, ...] = ()  # tables that differ (added or removed ones included)
    scripts_changed: tuple[str, ...] = ()  # registered scripts beside prereg.json whose hash differs
    registered_sha256: str = ""
    current_sha256: str = ""

    def describe(self) -> str:
        if not self.registered:
            return "no prereg.json beside the study file or in prereg/ (xai-study prereg writes one)"
        if self.matches and not self.scripts_changed:
            return f"matches the registration {self.lock_path} (SHA-256 {self.current_sha256[:12]}…)"
        parts = []
        if not self.matches:
            tables = ", ".join(self.changed) or "formatting or comments only (same tables)"
            parts.append(f"study file differs from the registration {self.lock_path} (registered SHA-256 "
                         f"{self.registered_sha256[:12]}…, now {self.current_sha256[:12]}…); changed: {tables}")
        if self.scripts_changed:
            parts.append(f"analysis scripts changed since registration: {', '.join(self.scripts_changed)}")
        return "DEVIATION: " + "; ".join(parts)


def _changed_tables(registered: dict[str, str], current: dict[str, str]) -> tuple[str, ...]:
    names = sorted(set(registered) | set(current))
    return tuple(f"{n} ({'added' if n not in registered else 'removed' if n not in current else 'changed'})"
                 for n in names if registered.get(n) != current.get(n))


def deviation(study_path: str | Path, lock_path: Path | None = None) -> Deviation:
    """The study file at ``study_path`` against its registration (``lock_path``, else :func:`find_lock`)."""
    lock_path = lock_path or find_lock(study_path)
    if lock_path is None:
        return Deviation(registered=False)
    record = json.loads(lock_path.read_text(encoding="utf-8"))
    text = read_study_file(study_path)
    registered = str(record.get("study_sha256", ""))
    changed = () if registered == text.sha256 else _changed_tables(record.get("tables") or {},
                                                                  table_hashes(text.data))
    scripts = [name for name, sha in (record.get("scripts") or {}).items()
               if (lock_path.parent / name).is_file() and sha256_file(lock_path.parent / name) != sha]
    return Deviation(True, lock_path, registered == text.sha256, changed, tuple(scripts), registered, text.sha256)
