"""Provenance for exports: which exact map (hash) and faithfulness scores a participant saw.

The export (``study_app.store.export``) calls the lookup once per shown method of a trial. Everything is
read from the attribution cache and the checkpoint's card (no model is loaded, nothing is computed), so
exporting stays fast and cannot change the cache. A map that is not cached gives ``None``: the export
leaves those columns empty rather than inventing values.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from study_app.explain.cache import CACHE_ENV, AttributionCache, file_content_sha256
from study_app.explain.methods import get_method
from study_app.explain.sanity import RANDOMIZED_SUFFIX
from study_app.explain.service import explanation_key
from trainers.checkpoint import WEIGHTS_FILE, CheckpointError, file_sha256, read_card

log = logging.getLogger(__name__)

ProvenanceLookup = Callable[[str, str, Mapping], Mapping | None]


def _study_cache_folder(study_path: Path) -> Path | None:
    """The study file's own ``[study] cache`` folder, resolved against the file (None when it names none)."""
    try:
        data = tomllib.loads(study_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    folder = data.get("study", {}).get("cache") if isinstance(data.get("study"), dict) else None
    return (study_path.resolve().parent / folder) if isinstance(folder, str) and folder.strip() else None


def make_provenance_lookup(
    study_path: str | Path | None = None, cache_dir: str | Path | None = None
) -> ProvenanceLookup:
    """A ``lookup(task, image_id, info) -> {"map_sha256", "faithfulness"} | None`` over the cache.

    ``info`` describes one shown map: ``name`` and ``params`` (registry method), ``target`` (class name,
    None = the predicted class), ``randomized_model``, and the trial's ``checkpoint``,
    ``checkpoint_sha256``, ``image_path``, ``image_sha256`` and ``predicted_label``. Relative paths are
    resolved against the study file's folder.
    """
    base = Path(study_path).resolve().parent if study_path else Path.cwd()
    if cache_dir is None and study_path and not os.environ.get(CACHE_ENV):
        cache_dir = _study_cache_folder(Path(study_path))
    cache = AttributionCache(cache_dir)
    cards: dict[Path, dict] = {}
    weights: dict[Path, str] = {}

    def resolve(path: str | None) -> Path | None:
        if not path:
            return None
        p = Path(path)
        return p if p.is_absolute() or p.exists() else base / p

    def lookup(task: str, image_id: str, info: Mapping[str, Any]) -> Mapping | None:
        name = info.get("name")
        if not name or name not in _method_names():
            return None
        try:
            checkpoint = resolve(info.get("checkpoint"))
            if checkpoint is None:
                return None
            card = cards.get(checkpoint) or cards.setdefault(checkpoint, read_card(checkpoint))
            sha = info.get("checkpoint_sha256") or weights.setdefault(
                checkpoint, file_sha256(checkpoint / WEIGHTS_FILE)
            )
            if info.get("randomized_model"):
                sha = f"{sha}{RANDOMIZED_SUFFIX}"
            image_sha = info.get("image_sha256")
            if not image_sha:
                image = resolve(info.get("image_path"))
                if image is None:
                    return None
                image_sha = file_content_sha256(image)
            label = info.get("target") or info.get("predicted_label")
            if label is None:
                return None
            target = list(card["class_names"]).index(label)
            explainer = get_method(name, **dict(info.get("params") or {}))
        except (OSError, ValueError, CheckpointError, KeyError) as exc:
            log.warning("no provenance for %s/%s (%s): %s", task, image_id, name, exc)
            return None
        entry = cache.get(explanation_key(sha, card, image_sha, explainer, target))
        if entry is None:
            return None
        return {"map_sha256": entry.record["map_sha256"], "faithfulness": entry.record.get("faithfulness")}

    return lookup


def _method_names() -> tuple[str, ...]:
    from study_app.explain.methods import METHODS

    return tuple(METHODS)
