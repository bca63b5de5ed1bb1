"""The app's view of the explanation service: maps per *shown method*, rendered, cached. No Streamlit.

Adapter over :class:`study_app.explain.service.ExplanationService` (on-disk attribution cache, Captum
methods, one lock for live computation). The engine describes a map as a ``ShownMethod`` (registry name,
parameters, the *class name* to explain, whether to use the weight-randomised model of the negative
control); this module turns that into the service's call, renders the map in the study's visual language,
and keeps rendered PNGs in a small in-memory LRU so a warm trial page does no image work at all.
The readiness check and precompute share it, so they judge exactly the entries the pages read.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from study_app.explain.sanity import RANDOMIZED_SUFFIX, randomized_copy
from study_app.explain.service import ExplanationService
from trainers.checkpoint import LoadedCheckpoint, load_checkpoint

PNG_CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class MapRequest:
    checkpoint: str
    image_path: str
    method: str
    params: tuple
    target: str | None
    randomized_model: bool
    label: str

    @classmethod
    def of(cls, checkpoint: str, image_path: str, shown) -> MapRequest:
        return cls(str(checkpoint), str(image_path), shown.name, tuple(sorted(dict(shown.params).items())),
                   shown.target, bool(shown.randomized_model), shown.label)


class StudyMapService:
    """Thread-safe; share one per process. ``cache_dir``: the folder the caller decided on
    (:func:`study_app.maps.coverage.study_cache_dir` for a study); ``None`` is the explanation package's default."""

    def __init__(self, cache_dir: str | Path | None = None, service: ExplanationService | None = None):
        self.service = service if service is not None else ExplanationService(cache_dir)
        self._lock = threading.Lock()
        self._checkpoints: dict[tuple[str, bool], object] = {}
        self._pngs: OrderedDict[tuple, object] = OrderedDict()

    # --- models ---------------------------------------------------------------------------------------

    def checkpoint(self, directory: str, randomized: bool = False):
        """The loaded checkpoint, or its weight-randomised copy (Adebayo et al. 2018) for the negative
        control; the copy gets its own hash so its maps never mix with the trained model's in the cache."""
        key = (str(Path(directory).resolve()), randomized)
        with self._lock:
            if key in self._checkpoints:
                return self._checkpoints[key]
        trained = self.checkpoint(directory) if randomized else load_checkpoint(directory)
        if randomized:
            trained = LoadedCheckpoint(model=randomized_copy(trained.model).eval(), card=trained.card,
                                       path=trained.path, sha256=trained.sha256 + RANDOMIZED_SUFFIX)
        with self._lock:
            return self._checkpoints.setdefault(key, trained)

    def _target_index(self, request: MapRequest) -> int:
        """The class to explain: the named one, else the *trained* model's prediction (also for the
        randomised control, so both maps explain the same class)."""
        trained = self.checkpoint(request.checkpoint)
        if request.target is not None:
            return trained.class_names.index(request.target)
        return self.service.predict(trained, request.image_path).index

    def _call(self, request: MapRequest) -> tuple:
        ckpt = self.checkpoint(request.checkpoint, request.randomized_model)
        return ckpt, request.image_path, request.method, dict(request.params)

    # --- cache ----------------------------------------------------------------------------------------

    def key(self, request: MapRequest) -> str:
        """The attribution-cache key of the map (checkpoint and image hashes, method, parameters, target)."""
        ckpt, image, method, params = self._call(request)
        return self.service.key_for(ckpt, image, method, params, self._target_index(request))

    def has(self, request: MapRequest) -> bool:
        return self.key(request) in self.service.cache

    def _remember(self, request: MapRequest, rendered):
        with self._lock:
            self._pngs[request] = rendered
            self._pngs.move_to_end(request)
            while len(self._pngs) > PNG_CACHE_ENTRIES:
                self._pngs.popitem(last=False)
        return rendered

    def cached(self, request: MapRequest):
        """The rendered map (``png``, ``alt_text``) if the attribution cache has it, else ``None``."""
        with self._lock:
            hit = self._pngs.get(request)
        if hit is not None:
            return hit
        if not self.has(request):
            return None
        return self.get_or_compute(request)

    def get_or_compute(self, request: MapRequest):
        """The rendered map, computing and caching the attribution first when it is missing."""
        with self._lock:
            hit = self._pngs.get(request)
        if hit is not None:
            return hit
        ckpt, image, method, params = self._call(request)
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=self._target_index(request))
        rendered = self.service.render(ckpt, image, explanation, method_label=request.label)
        return self._remember(request, rendered)

    def compute_faithfulness(self, request: MapRequest) -> dict:
        """Compute (or reuse) and store the faithfulness scores of one map; slow: for the researcher only."""
        ckpt, image, method, params = self._call(request)
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=self._target_index(request),
                                                  faithfulness=True)
        return dict(explanation.faithfulness or {})

    def faithfulness(self, request: MapRequest) -> dict:
        """Faithfulness scores stored with a cached map (by precompute), else empty; never computes."""
        if not self.has(request):
            return {}
        ckpt, image, method, params = self._call(request)
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=self._target_index(request))
        return dict(explanation.faithfulness or {})


def make_map_service(cache_dir: str | Path | None = None) -> StudyMapService:
    return StudyMapService(cache_dir)
