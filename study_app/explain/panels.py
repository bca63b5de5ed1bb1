"""Explanation kinds that are not maps ("panels"): similar examples, the prediction grid and concepts.

A study names them as methods (``[[methods]] name = "similar_examples"``); they are registered here, beside the
maps' registry (:data:`study_app.explain.methods.METHODS`), with their parameters, defaults and checks, and the
map service serves them as it serves maps: one rendered picture, its alt text, its cache key and its provenance.

* ``similar_examples`` (:func:`study_app.explain.examples.similar_examples`): the ``k`` pool images most similar
  to the shown image in the model's penultimate-layer features. On a distinction trial (one panel per candidate
  class) the ``k`` most similar images *labelled* that class.
* ``prediction_grid`` (:func:`study_app.explain.examples.prediction_grid`): up to ``n`` pool images per class the
  model predicts (Sixt et al. 2022's baseline); on a distinction trial only the candidate class's row.
* ``concepts`` (:mod:`study_app.explain.concepts`): TCAV scores (Kim et al. 2018) of researcher-supplied concept
  folders for the explained class, with random-concept significance; ``shuffled = true`` is the placebo
  (scores permuted over the concepts, seeded by the shown image).

Folder parameters (``pool``, ``concepts``) are paths, resolved against the study file by the loader; a cache key
holds the folders' *content* hashes, never their paths, so a moved folder keeps its results and an edited one
gets new ones. Which class a panel explains (``within``) is part of its key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from study_app.explain.cache import AttributionCache, cache_key, cache_root
from study_app.explain.concept_sets import DEFAULTS as CONCEPT_DEFAULTS
from study_app.explain.concept_sets import read_concepts
from study_app.explain.example_pool import Pool, read_pool
from study_app.explain.examples import KIND_DEFAULTS, METRICS

PANEL_VERSION = 1
FOLDER_PARAMS = ("pool", "concepts")
PANEL_DEFAULTS: dict[str, dict[str, Any]] = {  # each kind's own defaults, with the folders it reads
    "similar_examples": {"pool": None, **KIND_DEFAULTS["similar_examples"]},
    "prediction_grid": {"pool": None, **KIND_DEFAULTS["prediction_grid"]},
    "concepts": {"pool": None, "concepts": None, **CONCEPT_DEFAULTS, "shuffled": False},
}
LEAST = {"k": 1, "n": 1, "runs": 2, "max_images": 5, "max_class_images": 1, "seed": 0}  # whole-number parameters
# Kinds whose result depends on the shown image (a concept panel does only when shuffled: seeded by the image).
IMAGE_DEPENDENT = ("similar_examples",)


class PanelParamError(ValueError):
    """A panel kind's parameter is not usable; the message names it."""


def is_panel(name: str) -> bool:
    return name in PANEL_DEFAULTS


def check_params(name: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """``params`` over the kind's defaults, checked without reading any folder or model; the error names the
    parameter (the study-file parser adds the field's path)."""
    if name not in PANEL_DEFAULTS:
        raise PanelParamError(f"unknown explanation kind {name!r}; choose one of {', '.join(PANEL_DEFAULTS)}")
    defaults = PANEL_DEFAULTS[name]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise PanelParamError(f"{unknown[0]}: not a parameter of {name} (allowed: {', '.join(defaults)})")
    out = {**defaults, **params}
    for folder in FOLDER_PARAMS:
        if folder in defaults and (not isinstance(out[folder], str) or not out[folder].strip()):
            raise PanelParamError(f"{folder}: {name} needs a folder of labelled images "
                                  f"({folder} = \"<folder>\", relative to the study file)")
    for count, least in LEAST.items():
        if count in defaults and (isinstance(out[count], bool) or not isinstance(out[count], int) or out[count] < least):
            raise PanelParamError(f"{count}: must be a whole number of at least {least}, not {out[count]!r}"
                                  + (" (the significance test compares runs)" if count == "runs" else ""))
    if "metric" in defaults and out["metric"] not in METRICS:
        raise PanelParamError(f"metric: unknown similarity metric {out['metric']!r}; choose one of {', '.join(METRICS)}")
    if "alpha" in defaults and (isinstance(out["alpha"], bool) or not isinstance(out["alpha"], (int, float))
                                or not 0 < out["alpha"] < 1):
        raise PanelParamError(f"alpha: must be a number between 0 and 1, not {out['alpha']!r}")
    if "layer" in defaults and out["layer"] is not None and not isinstance(out["layer"], str):
        raise PanelParamError(f"layer: must be a layer name such as \"avgpool\", not {out['layer']!r}")
    if "shuffled" in defaults and not isinstance(out["shuffled"], bool):
        raise PanelParamError(f"shuffled: must be true or false, not {out['shuffled']!r}")
    return out


def resolve_folders(params: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """``params`` with its folder parameters made absolute against ``base`` (the study file's folder)."""
    return {k: (str((base / v).resolve()) if k in FOLDER_PARAMS and isinstance(v, str) else v)
            for k, v in params.items()}


# --- folders, read once per content --------------------------------------------------------------------------

_POOLS: dict[tuple, Pool] = {}
_CONCEPTS: dict[tuple, Any] = {}


def _signature(root: Path) -> tuple:
    """Every file's relative path, size and modification time: a pool is re-read (and re-hashed) only when
    one of them changes."""
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(s.startswith(".") for s in p.parts))
    return tuple((str(p.relative_to(root)), st.st_size, st.st_mtime_ns) for p in files for st in [p.stat()])


def pool_at(root: str | Path, class_names: Iterable[str]) -> Pool:
    """The example pool at ``root`` (:func:`~study_app.explain.example_pool.read_pool`), memoised per content."""
    root = Path(root).resolve()
    memo = (str(root), tuple(class_names), _signature(root) if root.is_dir() else ())
    if memo not in _POOLS:
        _POOLS[memo] = read_pool(root, memo[1])
    return _POOLS[memo]


def concepts_at(root: str | Path):
    """The concept set at ``root`` (:func:`study_app.explain.concept_sets.read_concepts`), memoised per content."""
    root = Path(root).resolve()
    memo = (str(root), _signature(root) if root.is_dir() else ())
    if memo not in _CONCEPTS:
        _CONCEPTS[memo] = read_concepts(root)
    return _CONCEPTS[memo]


_FOLDER_HASHES: dict[tuple, str] = {}


def folder_sha256(root: str | Path) -> str:
    """The content hash of every file under ``root`` (relative path and bytes), memoised per content: what a
    pre-registration records of an example pool or concept folder."""
    root = Path(root)
    memo = (str(root.resolve()), _signature(root) if root.is_dir() else ())
    if memo not in _FOLDER_HASHES:
        rows = [[rel, hashlib.sha256((root / rel).read_bytes()).hexdigest()] for rel, _size, _mtime in memo[1]]
        _FOLDER_HASHES[memo] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return _FOLDER_HASHES[memo]


def described_params(params: Mapping[str, Any], base: Path | None = None) -> dict[str, Any]:
    """``params`` for a document (pre-registration): each folder as a path relative to ``base`` (the study file's
    folder) where it lies inside it, with the SHA-256 of its content, so no machine path is published and the
    registration pins the images themselves."""
    out = dict(params)
    for key in FOLDER_PARAMS:
        if isinstance(out.get(key), str):
            written = Path(out[key])  # as the file gives it (relative to it), or resolved by the loader
            path = (base / written).resolve() if base is not None and not written.is_absolute() else written
            shown = (path.relative_to(base).as_posix() if base is not None and path.is_relative_to(base)
                     else written.as_posix() if not written.is_absolute() else path.name)
            out[key] = f"{shown} (SHA-256 {folder_sha256(path)[:16]}…)" if path.is_dir() else shown
    return out


# --- keys ----------------------------------------------------------------------------------------------------

def explained_within(name: str, class_names: list[str], target_index: int, per_class: bool) -> str | None:
    """The class a panel is restricted to: the candidate class on a distinction trial (``per_class``), always the
    explained class for concepts; ``None``: the whole pool (similar examples, the prediction grid)."""
    return class_names[target_index] if (per_class or name == "concepts") else None


def panel_key(checkpoint_sha256: str, card: Mapping[str, Any], image_sha256: str, name: str,
              params: Mapping[str, Any], target_index: int, per_class: bool) -> str:
    """The cache key of one panel: checkpoint, the shown image where the result depends on it, the kind, its
    parameters with folders as content hashes, the class it is restricted to and the card's input geometry.
    Needs the card, not the weights (a participant's plan names it without loading a model)."""
    params = check_params(name, params)
    class_names = list(card["class_names"])
    determining: dict[str, Any] = {k: v for k, v in params.items() if k not in FOLDER_PARAMS}
    determining["pool"] = pool_at(params["pool"], class_names).sha256
    if name == "concepts":
        determining["concepts"] = concepts_at(params["concepts"]).sha256
    determining.update(within=explained_within(name, class_names, target_index, per_class), panel_version=PANEL_VERSION,
                       input_size=int(card["input_size"]), mean=[float(v) for v in card["mean"]],
                       std=[float(v) for v in card["std"]])
    depends = name in IMAGE_DEPENDENT or params.get("shuffled")
    return cache_key(checkpoint_sha256, image_sha256 if depends else "", name, determining)


def panel_cache(cache_dir: str | Path | None) -> AttributionCache:
    """Served panels' records, under ``panels/`` of the cache folder (an empty map and the record per key)."""
    return AttributionCache(cache_root(cache_dir) / "panels")


def shuffle_seed(image_sha256: str) -> int:
    """The placebo's permutation seed: from the shown image, so each image gets its own and a rerun the same."""
    return int(hashlib.sha256(f"shuffle:{image_sha256}".encode()).hexdigest()[:12], 16)
