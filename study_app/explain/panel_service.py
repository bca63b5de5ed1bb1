"""Compute (or read back) one panel: a similar-examples row, a prediction grid or a concept chart.

The map service (:mod:`study_app.maps.service`) calls :func:`compute_panel` for a request whose method is a panel
kind (:mod:`study_app.explain.panels`). The results themselves are cached by their own modules
(:mod:`study_app.explain.examples`, :mod:`study_app.explain.concepts`); what is stored here, under the panel's
key in ``panels/`` of the cache folder, is the record of what was served (kind, class, quality figures, the
result's provenance): the entry ``check`` and ``precompute`` count, and the export's provenance.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from study_app.explain.cache import file_content_sha256
from study_app.explain.examples import prediction_grid, similar_examples
from study_app.explain.panels import (
    FOLDER_PARAMS,
    check_params,
    concepts_at,
    explained_within,
    panel_cache,
    panel_key,
    pool_at,
    shuffle_seed,
)
from trainers.checkpoint import LoadedCheckpoint


@dataclass(frozen=True)
class PanelOutcome:
    """A computed panel: ``result`` (an ``ExampleResult`` or ``ConceptResult``), its key, the class it explains
    (``explained``: a class name), the flat quality figures the export carries, and ``result_sha256``: the hash of
    what the panel shows (examples or concept scores, in order), the panel's counterpart of a map's hash."""

    result: Any
    key: str
    explained: str
    quality: dict[str, Any]
    result_sha256: str
    from_cache: bool


def quality_figures(result: Any) -> dict[str, Any]:
    """The panel's quality figures as flat export values (None where undefined).

    Similar examples: ``label_agreement`` (share of the k examples labelled as the model's prediction for the
    shown image; empty on a distinction trial's per-class panel, where it is 1 by construction) and
    ``mean_similarity`` (cosine) or ``mean_distance`` (Euclidean). Concepts: ``concept_scores`` and
    ``concept_p_values`` (``name=value`` joined by ``;``, concept-folder order), ``concepts_significant`` (the
    names with p below alpha over the number of concepts), ``concepts_shuffled`` (the placebo) and
    ``concept_cav_accuracy`` (each concept's CAV held-out accuracy, mean over runs: near chance (0.5), the concept
    direction means little; Kim et al. 2018 report it beside the scores)."""
    if getattr(result, "kind", None) == "concepts":
        return {
            "concept_scores": ";".join(f"{c.name}={c.score:.4f}" for c in result.concepts),
            "concept_p_values": ";".join(f"{c.name}={_p(c.p_value)}" for c in result.concepts),
            "concepts_significant": ";".join(c.name for c in result.concepts if c.significant),
            "concepts_shuffled": bool(result.shuffled),
            "concept_cav_accuracy": ";".join(f"{r['name']}={np.mean(r['cav_accuracy']):.3f}"
                                             for r in result.record.get("concepts", []) if r.get("cav_accuracy")),
        }
    return {k: (None if v is None else float(v)) for k, v in dict(result.quality).items()}


def _p(value: float) -> str:
    return "" if value is None or np.isnan(value) else f"{value:.4g}"


def shown_content(result: Any) -> list:
    """What the panel shows, as data: the examples (pool path, label, prediction) or the concepts' scores."""
    if getattr(result, "kind", None) == "concepts":
        return [[c.name, round(c.score, 6), _p(c.p_value), bool(c.significant)] for c in result.concepts]
    return [[e.rel, e.label, e.predicted, round(e.confidence, 6)] for e in result.examples]


def compute_panel(checkpoint: LoadedCheckpoint, image_path: str | Path, name: str, params: dict, target_index: int,
                  per_class: bool, cache_dir: str | Path | None) -> PanelOutcome:
    """The panel ``name`` for ``image_path`` explaining class ``target_index`` (see the module docstring)."""
    params = check_params(name, params)
    class_names = list(checkpoint.class_names)
    within = explained_within(name, class_names, target_index, per_class)
    image_sha = file_content_sha256(image_path)
    key = panel_key(checkpoint.sha256, checkpoint.card, image_sha, name, params, target_index, per_class)
    pool = pool_at(params["pool"], class_names)
    kwargs = {k: v for k, v in params.items() if k not in FOLDER_PARAMS}
    if name == "similar_examples":
        result = similar_examples(checkpoint, image_path, pool, cache_dir, within=within, **kwargs)
    elif name == "prediction_grid":
        result = prediction_grid(checkpoint, pool, cache_dir, within=within, **kwargs)
    else:
        from study_app.explain.concepts import (  # heavy: captum.concept, scipy, sklearn
            concept_scores,
            shuffled,
        )

        placebo = kwargs.pop("shuffled")
        result = concept_scores(checkpoint, concepts_at(params["concepts"]), pool, target_index, cache_dir, **kwargs)
        if placebo:
            result = shuffled(result, shuffle_seed(image_sha))
    content = shown_content(result)
    outcome = PanelOutcome(result=result, key=key, explained=class_names[target_index], quality=quality_figures(result),
                           result_sha256=hashlib.sha256(json.dumps(content).encode()).hexdigest(),
                           from_cache=bool(getattr(result, "from_cache", False)))
    cache = panel_cache(cache_dir)
    if cache.get(key) is None:
        cache.put(key, np.zeros((0, 0), dtype=np.float32),
                  {"kind": name, "explained": outcome.explained, "within": within,
                   "quality": outcome.quality, "shown": content, "result_sha256": outcome.result_sha256,
                   "result_key": result.key, "provenance": result.record})
    return outcome
