"""Example-based explanation kinds: similar examples and the prediction grid.

* ``similar_examples`` — the k pool images most similar to the shown image in the model's penultimate-layer
  features, ranked by Captum's :class:`captum.influence.SimilarityInfluence` (Nguyen et al. 2021; HIVE, Kim
  et al. 2022). ``metric="cosine"`` ranks by cosine similarity, highest first; ``metric="euclidean"`` by
  Euclidean distance, smallest first (``similarity`` then holds the distance). Captum ranks the whole pool;
  equal scores are then ordered by the pool path, so the result is deterministic.
* ``prediction_grid`` — Sixt et al. (2022)'s baseline: the pool grouped by the model's predicted class, the
  ``n`` most confident images per class (ties by path), classes in the model's order.

Each example carries its path, true label (its class folder), the model's prediction and confidence.
Results are cached under ``<cache>/examples/`` with a key from exactly what determines them: checkpoint
SHA-256, the pool's content hash (:attr:`~study_app.explain.example_pool.Pool.sha256`), the shown image's
hash, the parameters, the input geometry and :data:`KIND_VERSION`. Quality figures, stored with the result:

* ``label_agreement`` (similar examples): share of the k examples whose true label equals the model's
  prediction for the shown image, in [0, 1]; high when the examples support the prediction.
* ``mean_similarity`` (cosine) or ``mean_distance`` (euclidean): mean score of the k examples.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from captum.influence import SimilarityInfluence
from captum.influence._core.similarity_influence import cosine_similarity, euclidean_distance

from study_app.explain.base import library_versions
from study_app.explain.cache import AttributionCache, cache_key, cache_root, file_content_sha256
from study_app.explain.example_pool import Pool, PoolDataset, pool_batch_size, pool_features
from trainers.checkpoint import LoadedCheckpoint
from trainers.images import open_rgb
from trainers.predict import predict_topk, preprocess

KIND_VERSION = 1
# metric -> (Captum similarity function, Captum similarity_direction, quality figure name)
METRICS = {"cosine": (cosine_similarity, "max", "mean_similarity"),
           "euclidean": (euclidean_distance, "min", "mean_distance")}
PENULTIMATE_LAYERS = ("avgpool", "backbone.avgpool")  # torchvision ResNets; zero-shot folds wrap one
KIND_DEFAULTS: dict[str, dict[str, Any]] = {
    "similar_examples": {"k": 5, "layer": None, "metric": "cosine"},
    "prediction_grid": {"n": 3},
}


class ExampleParamError(ValueError):
    """A parameter of an example kind is not usable; the message names the field."""


def default_layer(model: torch.nn.Module) -> str:
    names = dict(model.named_modules())
    for name in PENULTIMATE_LAYERS:
        if name in names:
            return name
    raise ExampleParamError(f"layer: this model has no known penultimate layer ({', '.join(PENULTIMATE_LAYERS)}); "
                            "name one")


def validate_params(kind: str, params: dict[str, Any], model: torch.nn.Module, pool_size: int) -> dict[str, Any]:
    """``params`` merged over the kind's defaults and checked; :class:`ExampleParamError` naming the field."""
    if kind not in KIND_DEFAULTS:
        raise ExampleParamError(f"kind: unknown example kind {kind!r}; choose one of {', '.join(KIND_DEFAULTS)}")
    unknown = sorted(set(params) - set(KIND_DEFAULTS[kind]))
    if unknown:
        raise ExampleParamError(f"{unknown[0]}: not a parameter of {kind} "
                                f"(allowed: {', '.join(KIND_DEFAULTS[kind])})")
    out = {**KIND_DEFAULTS[kind], **params}
    count = "k" if kind == "similar_examples" else "n"
    value = out[count]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ExampleParamError(f"{count}: must be a whole number of at least 1, not {value!r}")
    if kind == "similar_examples":
        if value > pool_size:
            raise ExampleParamError(f"k: {value} is more than the {pool_size} images of the example pool")
        if out["metric"] not in METRICS:
            raise ExampleParamError(f"metric: unknown similarity metric {out['metric']!r}; choose one of "
                                    f"{', '.join(METRICS)}")
        layer = out["layer"] if out["layer"] is not None else default_layer(model)
        if layer not in dict(model.named_modules()):
            raise ExampleParamError(f"layer: {layer!r} is not a layer of the model (e.g. {default_layer(model)!r})")
        out["layer"] = layer
    return out


@dataclass(frozen=True)
class Example:
    """One pool image as shown: ``similarity`` is the metric's score (None in a prediction grid)."""

    path: str
    rel: str
    label: str
    predicted: str
    confidence: float
    similarity: float | None = None


@dataclass(frozen=True)
class ExampleResult:
    """A computed example explanation and its provenance (``record``, JSON-safe, as stored)."""

    kind: str
    examples: tuple[Example, ...]
    record: dict[str, Any]
    key: str
    from_cache: bool = False

    @property
    def quality(self) -> dict[str, float | None]:
        return self.record["quality"]


def _key(checkpoint: LoadedCheckpoint, pool: Pool, image_sha256: str, kind: str, params: dict) -> str:
    determining = {**params, "pool": pool.sha256, "kind_version": KIND_VERSION, "input_size": checkpoint.input_size,
                   "mean": list(checkpoint.mean), "std": list(checkpoint.std)}
    return cache_key(checkpoint.sha256, image_sha256, kind, determining)


def example_cache(cache_dir: str | Path | None) -> AttributionCache:
    """The example results' cache: an :class:`AttributionCache` (atomic writes, damaged entries are misses)
    in ``examples/`` of the cache folder, holding an empty map and the result as its record."""
    return AttributionCache(cache_root(cache_dir) / "examples")


def result_from_record(kind: str, key: str, record: dict, pool: Pool, from_cache: bool) -> ExampleResult:
    """The result with each example's ``path`` under the pool's current folder (the record stores paths
    relative to the pool, as the key does, so a moved pool keeps its results)."""
    examples = tuple(Example(path=str(pool.root / e["rel"]), **e) for e in record["examples"])
    return ExampleResult(kind, examples, record, key, from_cache)


def _stored(example: Example) -> dict[str, Any]:
    return {k: v for k, v in example.__dict__.items() if k != "path"}


def _store(cache: AttributionCache, kind: str, key: str, record: dict, pool: Pool) -> ExampleResult:
    cache.put(key, np.zeros((0, 0), dtype=np.float32), record)
    entry = cache.get(key)  # read back, so a first call returns exactly what later hits will
    return result_from_record(kind, key, entry.record if entry else record, pool, from_cache=False)


def _provenance(kind: str, checkpoint: LoadedCheckpoint, pool: Pool, params: dict, started: float) -> dict:
    return {"kind": kind, "kind_version": KIND_VERSION, "params": params, "checkpoint_sha256": checkpoint.sha256,
            "input_size": checkpoint.input_size,  # the panel shows each photo at the region the model sees
            "pool_sha256": pool.sha256, "pool_size": len(pool),
            "versions": library_versions(), "seconds": round(time.perf_counter() - started, 4)}


def similar_examples(
    checkpoint: LoadedCheckpoint, image_path: str | Path, pool: Pool, cache_dir: str | Path | None = None,
    within: str | None = None, **params: Any,
) -> ExampleResult:
    """The ``k`` pool images most similar to ``image_path`` (cached; see the module docstring); with ``within``
    (a class name) the ``k`` most similar of the images labelled that class (a distinction trial's candidate)."""
    members = len(pool) if within is None else sum(im.label == within for im in pool.images)
    if within is not None and members == 0:
        raise ExampleParamError(f"pool: no image of the example pool is labelled {within!r}")
    params = validate_params("similar_examples", params, checkpoint.model, members)
    image_sha = file_content_sha256(image_path)
    cache = example_cache(cache_dir)
    key = _key(checkpoint, pool, image_sha, "similar_examples", {**params, "within": within})
    hit = cache.get(key)
    if hit is not None:
        return result_from_record("similar_examples", key, hit.record, pool, from_cache=True)
    started = time.perf_counter()
    features = pool_features(checkpoint, pool, params["layer"], cache_root(cache_dir))
    metric, direction, figure = METRICS[params["metric"]]
    influence = SimilarityInfluence(
        checkpoint.model, params["layer"], influence_src_dataset=PoolDataset(checkpoint, pool),
        activation_dir=str(features.activation_dir), model_id=features.model_id,
        similarity_metric=_one_layer(metric, direction), similarity_direction=direction,
        batch_size=pool_batch_size(len(pool)),
    )
    image = open_rgb(image_path)
    x = preprocess(checkpoint, [image]).to(next(checkpoint.model.parameters()).device)
    indices, scores = influence.influence(x, top_k=len(pool), load_src_from_disk=True)[params["layer"]]
    sign = -1.0 if direction == "max" else 1.0
    ranked = sorted(((i, s) for i, s in zip(indices[0].tolist(), scores[0].tolist(), strict=True)
                     if within is None or pool.images[i].label == within),
                    key=lambda t: (sign * t[1], pool.images[t[0]].rel))
    shown = predict_topk(checkpoint, [image], k=1)[0]
    examples = [_example(pool, features.predictions, i, float(s)) for i, s in ranked[: params["k"]]]
    # Restricted to one class, every example carries that label: agreement would be 1 by construction.
    agree = None if within is not None else sum(e.label == shown.label for e in examples) / len(examples)
    record = {
        **_provenance("similar_examples", checkpoint, pool, {**params, "within": within}, started),
        "image_sha256": image_sha,
        "shown_prediction": {"label": shown.label, "confidence": shown.prob},
        "examples": [_stored(e) for e in examples],
        "quality": {"label_agreement": agree, figure: float(np.mean([e.similarity for e in examples]))},
    }
    return _store(cache, "similar_examples", key, record, pool)


def _one_layer(metric, direction: str):
    """Captum 0.9's SimilarityInfluence passes a one-layer list (not the tensor) for the shown image's
    activations when one layer is named (LayerActivation given a list of modules returns a list, which
    ``influence`` wraps once more); unwrap it. Cosine keeps Captum's own zero-vector marker (-2 when
    ranking by the largest value). Scores are computed on the CPU, where Captum collects them."""
    if metric is cosine_similarity:
        metric = partial(cosine_similarity, replace_nan=-2 if direction == "max" else 2)

    def similarity(test, train):  # on the CPU: Captum collects the scores in CPU tensors
        test = test[0] if isinstance(test, (list, tuple)) else test
        return metric(test.detach().float().cpu(), train.detach().float().cpu())

    return similarity


def _example(pool: Pool, predictions, i: int, score: float | None) -> Example:
    im = pool.images[i]
    predicted, confidence = predictions[i]
    return Example(str(im.path), im.rel, im.label, predicted, float(confidence), score)


def prediction_grid(
    checkpoint: LoadedCheckpoint, pool: Pool, cache_dir: str | Path | None = None, within: str | None = None,
    **params: Any,
) -> ExampleResult:
    """Up to ``n`` pool images per predicted class, most confident first (ties by path), classes in the
    model's order; a class the model never predicts in the pool has no images (``record["groups"]``). With
    ``within`` (a class name) only that class's group (a distinction trial's candidate)."""
    params = validate_params("prediction_grid", params, checkpoint.model, len(pool))
    cache = example_cache(cache_dir)
    key = _key(checkpoint, pool, "", "prediction_grid", {**params, "within": within})
    hit = cache.get(key)
    if hit is not None:
        return result_from_record("prediction_grid", key, hit.record, pool, from_cache=True)
    started = time.perf_counter()
    layer = default_layer(checkpoint.model)
    features = pool_features(checkpoint, pool, layer, cache_root(cache_dir))
    groups: dict[str, list[str]] = {}
    examples: list[Example] = []
    for cls in [c for c in checkpoint.class_names if within is None or c == within]:
        members = [i for i, (p, _) in enumerate(features.predictions) if p == cls]
        members.sort(key=lambda i: (-features.predictions[i][1], pool.images[i].rel))
        chosen = [_example(pool, features.predictions, i, None) for i in members[: params["n"]]]
        groups[cls] = [e.rel for e in chosen]
        examples.extend(chosen)
    record = {**_provenance("prediction_grid", checkpoint, pool, {**params, "within": within}, started),
              "groups": groups,
              "examples": [_stored(e) for e in examples], "quality": {}}
    return _store(cache, "prediction_grid", key, record, pool)
