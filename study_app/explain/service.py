"""The explanation service the Streamlit app and the study engine use: predict, explain, cache, render.

One :class:`ExplanationService` can be shared by every session (e.g. held in ``st.cache_resource``):
it keeps no per-participant state, and live computation on a shared model runs under one lock, because
attribution methods temporarily attach hooks to the model and would interfere if run concurrently.
Cached maps are read without the lock.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from study_app.explain.base import ExplanationMethod
from study_app.explain.cache import AttributionCache, cache_key, file_content_sha256, map_sha256
from study_app.explain.colours import DEFAULT_MAP_COLOURS
from study_app.explain.faithfulness import faithfulness_report
from study_app.explain.methods import get_method
from study_app.explain.render import Rendered, render_explanation
from trainers.checkpoint import LoadedCheckpoint
from trainers.images import open_rgb
from trainers.predict import Prediction, display_image, predict_topk, preprocess


def explanation_key(
    checkpoint_sha256: str, card: dict, image_sha256: str, explainer: ExplanationMethod, target: int
) -> str:
    """The cache key of one map: weights hash, image hash, method, its map-determining parameters, the
    target class and the card's input geometry and normalisation (which change the model input).
    Needs only the card, not the weights, so a participant's plan can name it without loading a model."""
    params = {
        **explainer.cache_params,
        "target": int(target),
        "input_size": int(card["input_size"]),
        "mean": [float(v) for v in card["mean"]],
        "std": [float(v) for v in card["std"]],
    }
    return cache_key(checkpoint_sha256, image_sha256, explainer.name, params)


DEFAULT_FAITHFULNESS_OPTIONS = {
    "steps": 20,
    "infidelity_samples": 16,
    "sensitivity_samples": 4,
    "sanity": True,
}


@dataclass(frozen=True)
class CachedExplanation:
    """A map ready to show, with the prediction it explains and its provenance.

    Attributes:
        map_hw: float32 H×W map at the model input's size (the region of :meth:`ExplanationService.display`).
        labels, probs: top-k prediction, best first.
        target, target_label: the class the map explains (top-1 unless asked otherwise).
        method, params: registry name and the map-determining parameters.
        signed: whether negative values are meaningful (pass to rendering).
        meta: the method's metadata (library versions, seconds, superpixel count, ...).
        map_sha256: hash of the exact map, to export with a participant's answer.
        faithfulness: scores of :data:`~study_app.explain.faithfulness.METRIC_NAMES`, or None if not computed.
        key: the cache key; image_sha256, checkpoint_sha256: what the key was made of.
        from_cache: whether this call was served from the cache.
    """

    map_hw: np.ndarray
    labels: tuple[str, ...]
    probs: tuple[float, ...]
    target: int
    target_label: str
    method: str
    params: dict[str, Any]
    signed: bool
    meta: dict[str, Any]
    map_sha256: str
    faithfulness: dict[str, float] | None
    key: str
    image_sha256: str = ""
    checkpoint_sha256: str = ""
    from_cache: bool = field(default=False, compare=False)


class ExplanationService:
    """Predictions and cached explanation maps for checkpoints and image files.

    Args:
        cache_dir: folder of the :class:`~study_app.explain.cache.AttributionCache` (default:
            ``$XAI_STUDY_CACHE`` or ``.xai_cache/``).
        top_k: how many classes a prediction lists.
    """

    def __init__(self, cache_dir: str | Path | None = None, top_k: int = 3):
        self.cache = AttributionCache(cache_dir)
        self.top_k = top_k
        self._lock = threading.RLock()
        self._predictions: OrderedDict[tuple[str, str], Prediction] = OrderedDict()

    # --- inputs ---------------------------------------------------------------------------------------

    @staticmethod
    def display(checkpoint: LoadedCheckpoint, image_path: str | Path) -> Image.Image:
        """The region the model sees, at display resolution (:func:`trainers.predict.display_image`), to show
        under a map."""
        return display_image(open_rgb(image_path), checkpoint.input_size)

    def _input(self, checkpoint: LoadedCheckpoint, image_path: str | Path) -> torch.Tensor:
        device = next(checkpoint.model.parameters()).device
        return preprocess(checkpoint, [open_rgb(image_path)]).to(device)

    # --- prediction -----------------------------------------------------------------------------------

    def predict(self, checkpoint: LoadedCheckpoint, image_path: str | Path) -> Prediction:
        """Top-k prediction of one image file (memoised per checkpoint and image content)."""
        memo = (checkpoint.sha256, file_content_sha256(image_path))
        with self._lock:
            hit = self._predictions.get(memo)
            if hit is not None:
                return hit
            prediction = predict_topk(checkpoint, [open_rgb(image_path)], k=self.top_k)[0]
            self._predictions[memo] = prediction
            while len(self._predictions) > 4096:
                self._predictions.popitem(last=False)
            return prediction

    # --- explanations ---------------------------------------------------------------------------------

    def key_for(
        self,
        checkpoint: LoadedCheckpoint,
        image_path: str | Path,
        method: str,
        params: dict[str, Any] | None = None,
        target: int | None = None,
    ) -> str:
        """The cache key :meth:`get_or_compute` would use (target None = the predicted class)."""
        return self._request(checkpoint, image_path, method, params, target)[3]

    def _request(self, checkpoint: LoadedCheckpoint, image_path: str | Path, method: str,
                 params: dict[str, Any] | None, target: int | None) -> tuple[ExplanationMethod, str, int, str]:
        """``(explainer, image hash, target, cache key)`` of one map; the prediction is made only when the
        target is "the predicted class" (with a target given, a cached map needs no model run at all)."""
        explainer = get_method(method, **(params or {}))
        image_sha = file_content_sha256(image_path)
        target = self.predict(checkpoint, image_path).index if target is None else int(target)
        key = explanation_key(checkpoint.sha256, checkpoint.card, image_sha, explainer, target)
        return explainer, image_sha, target, key

    def get_or_compute(
        self,
        checkpoint: LoadedCheckpoint,
        image_path: str | Path,
        method: str,
        params: dict[str, Any] | None = None,
        *,
        target: int | None = None,
        faithfulness: bool = False,
        faithfulness_options: dict[str, Any] | None = None,
    ) -> CachedExplanation:
        """The map of ``method`` for one image, from the cache or computed (then cached).

        Args:
            checkpoint: from :func:`trainers.checkpoint.load_checkpoint`.
            image_path: an image file (any format :func:`trainers.images.open_rgb` reads).
            method: registry name (:data:`~study_app.explain.methods.METHODS`).
            params: overrides of the method's defaults; invalid ones raise ``ValueError``.
            target: class index to explain; default: the predicted (top-1) class.
            faithfulness: also compute (or reuse) the faithfulness scores; costs several extra
                explanations, so the app should rely on precomputed ones.
            faithfulness_options: overrides of :data:`DEFAULT_FAITHFULNESS_OPTIONS`.
        """
        explainer, image_sha, target, key = self._request(checkpoint, image_path, method, params, target)
        entry = self.cache.get(key)
        from_cache = entry is not None
        if entry is None:
            map_hw, record = self._compute(checkpoint, image_path, explainer, image_sha, target)
        else:
            map_hw, record = entry.map_hw, entry.record
        options = {**DEFAULT_FAITHFULNESS_OPTIONS, **(faithfulness_options or {})}
        if faithfulness and (record.get("faithfulness") is None or record.get("faithfulness_options") != options):
            record = self._with_faithfulness(record, checkpoint, image_path, explainer, target, map_hw, options)
            entry = None  # the record changed: write it back
        if entry is None:
            self.cache.put(key, map_hw, record)
            record = {**record, "map_sha256": map_sha256(map_hw)}
        return _cached_explanation(map_hw, record, key, from_cache)

    def _compute(self, checkpoint: LoadedCheckpoint, image_path: str | Path, explainer: ExplanationMethod,
                 image_sha: str, target: int) -> tuple[np.ndarray, dict[str, Any]]:
        """Run ``explainer`` now (under the model lock); the map and the record the cache keeps with it."""
        prediction = self.predict(checkpoint, image_path)
        with self._lock:
            x = self._input(checkpoint, image_path)
            explanation = explainer.explain(checkpoint.model, x, target, normalization=(checkpoint.mean, checkpoint.std))
        record = {
            "checkpoint_sha256": checkpoint.sha256,
            "image_sha256": image_sha,
            "method": explainer.name,
            "params": explainer.cache_params,
            "target": target,
            "target_label": checkpoint.class_names[target],
            "labels": list(prediction.labels),
            "probs": list(prediction.probs),
            "indices": list(prediction.indices),
            "signed": explainer.signed,
            "meta": explanation.meta,
            "faithfulness": None,
            "faithfulness_options": None,
        }
        return explanation.map_hw, record

    def _with_faithfulness(self, record: dict[str, Any], checkpoint: LoadedCheckpoint, image_path: str | Path,
                           explainer: ExplanationMethod, target: int, map_hw: np.ndarray,
                           options: dict[str, Any]) -> dict[str, Any]:
        """``record`` with the faithfulness scores of ``map_hw`` under ``options`` (computed under the model lock)."""
        with self._lock:
            x = self._input(checkpoint, image_path)
            scores = faithfulness_report(explainer, checkpoint.model, x, target, map_hw,
                                         normalization=(checkpoint.mean, checkpoint.std), **options)
        return {**record, "faithfulness": scores, "faithfulness_options": options}

    def render(
        self,
        checkpoint: LoadedCheckpoint,
        image_path: str | Path,
        explanation: CachedExplanation,
        mode: str = "overlay",
        signed: bool = False,
        method_label: str | None = None,
        colours: str = DEFAULT_MAP_COLOURS,
    ) -> Rendered:
        """PNG + alt text of ``explanation`` over the display image, in the study's visual language and
        colour scheme (``colours``: :data:`study_app.explain.colours.MAP_COLOURS`)."""
        return render_explanation(
            self.display(checkpoint, image_path),
            explanation.map_hw,
            mode=mode,
            signed=signed,
            method_label=method_label,
            colours=colours,
        )


def _cached_explanation(map_hw: np.ndarray, record: dict[str, Any], key: str, from_cache: bool) -> CachedExplanation:
    """A cache record (as :meth:`ExplanationService._compute` writes it) as the typed result."""
    return CachedExplanation(
        map_hw=map_hw,
        labels=tuple(record["labels"]),
        probs=tuple(float(p) for p in record["probs"]),
        target=int(record["target"]),
        target_label=record["target_label"],
        method=record["method"],
        params=dict(record["params"]),
        signed=bool(record["signed"]),
        meta=dict(record["meta"]),
        map_sha256=record.get("map_sha256") or "",
        faithfulness=record.get("faithfulness"),
        key=key,
        image_sha256=record["image_sha256"],
        checkpoint_sha256=record["checkpoint_sha256"],
        from_cache=from_cache,
    )
