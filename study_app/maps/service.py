"""The study's view of the explanation service: maps per *shown method*, rendered, cached. No Streamlit.

Adapter over :class:`study_app.explain.service.ExplanationService` (on-disk attribution cache, Captum
methods, one lock for live computation). A trial describes a map as a ``ShownMethod`` whose class to explain
the plan already resolved (``target_index``), so serving a map never runs the model for a prediction; this
module turns it into the service's call, renders the map in the study's visual language, and keeps rendered
maps in a small in-memory LRU so a warm trial page does no image work at all. Each rendered map carries the
SHA-256 of its PNG bytes (hashed once, when rendered) and its cache key: what the engine records when the
trial is shown. The readiness check and precompute share this service, so they judge exactly the entries
the pages read.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from study_app.explain.cache import file_content_sha256
from study_app.explain.colours import map_colours
from study_app.explain.panels import is_panel, panel_cache, panel_key
from study_app.explain.render import MapDescription
from study_app.explain.sanity import RANDOMIZED_SUFFIX, randomized_copy
from study_app.explain.service import ExplanationService
from study_app.maps.panels import serve_panel
from trainers.checkpoint import LoadedCheckpoint, load_checkpoint

PNG_CACHE_ENTRIES = 2048


@dataclass(frozen=True)
class MapRequest:
    """One map: ``target_index`` is the class explained (resolved by the plan or by the caller). The attribution
    is computed on ``image_path`` and drawn over ``photo_path``; ``None`` (always, but for a decision placebo
    from another image): over ``image_path`` itself."""

    checkpoint: str
    image_path: str
    method: str
    params: tuple
    target_index: int
    randomized_model: bool
    label: str
    photo_path: str | None = None
    per_class: bool = False  # explains a candidate class named by the trial (distinction), not the prediction

    @classmethod
    def of(cls, checkpoint: str, image_path: str, shown, target_index: int | None = None,
           photo_path: str | None = None) -> MapRequest:
        index = shown.target_index if target_index is None else target_index
        if index is None:
            raise ValueError(f"map {shown.key!r}: the class to explain is not resolved (no target_index)")
        photo = None if photo_path is None or str(photo_path) == str(image_path) else str(photo_path)
        return cls(str(checkpoint), str(image_path), shown.name, tuple(sorted(dict(shown.params).items())),
                   int(index), bool(shown.randomized_model), shown.label, photo,
                   per_class=getattr(shown, "target", None) is not None)

    @classmethod
    def on_trial(cls, checkpoint: str, trial_image_path: str, shown) -> MapRequest:
        """A trial's map: computed on the map's own image where it has one (a decision placebo from another
        image), else on the trial's, and always drawn over the trial's image. The one rule for the engine's
        record and the page alike."""
        return cls.of(checkpoint, shown.image_path or trial_image_path, shown, photo_path=trial_image_path)

    @property
    def drawn_over(self) -> str:
        """The image file under the map."""
        return self.photo_path or self.image_path


@dataclass(frozen=True)
class ServedMap:
    """A map as the app serves it: the PNG and its alt text, and what identifies it for provenance."""

    png: bytes
    alt_text: str  # English; ``description`` is the same as data, for the participant's language
    description: MapDescription
    png_sha256: str  # of ``png``, the exact bytes a participant's browser receives
    cache_key: str  # the attribution-cache entry it was rendered from
    map_sha256: str  # of the float map in that entry
    checkpoint_sha256: str
    image_sha256: str  # of the image the attribution was computed on
    photo_sha256: str  # of the image drawn under the map (the trial's own, also for a placebo from another image)
    target_index: int
    target_label: str
    faithfulness: dict | None  # scores stored with the entry when it was served, if any
    convergence: dict | None = None  # a sampled map's (LIME, Kernel SHAP) meta["convergence"]; None: deterministic
    colours: str | None = None  # the colour scheme it was drawn in (study_app.explain.colours)
    quality: dict | None = None  # a panel's quality figures (explain.panel_service.quality_figures); None: a map

    @property
    def is_panel(self) -> bool:
        """A panel (similar examples, prediction grid, concepts), not a map: ``description`` is then a
        :class:`~study_app.explain.panel_render.PanelDescription`."""
        return self.quality is not None


class StudyMapService:
    """Thread-safe; share one per process. ``cache_dir``: the folder the caller decided on
    (:func:`study_app.maps.coverage.study_cache_dir` for a study); ``None`` is the explanation package's default.
    ``colours``: the colour scheme every map is drawn in (the study's ``map_colours``; ``None``: the default).
    ``language`` and ``wording`` (checkpoint folder → class name → what participants read): the words a panel
    draws (:mod:`study_app.maps.panels`), the study's."""

    def __init__(self, cache_dir: str | Path | None = None, service: ExplanationService | None = None,
                 colours: str | None = None, language: str | None = None,
                 wording: Mapping[str, Mapping[str, str]] | None = None):
        self.service = service if service is not None else ExplanationService(cache_dir)
        self.colours = map_colours(colours).name
        self.language = language
        self.wording = {str(Path(k).resolve()): dict(v) for k, v in (wording or {}).items()}
        self._lock = threading.Lock()
        self._checkpoints: dict[tuple[str, bool], LoadedCheckpoint] = {}
        self._pngs: OrderedDict[MapRequest, ServedMap] = OrderedDict()
        self._computing: dict[MapRequest, threading.Lock] = {}  # one computation per missing map at a time

    # --- models ---------------------------------------------------------------------------------------

    def checkpoint(self, directory: str, randomized: bool = False) -> LoadedCheckpoint:
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

    def _call(self, request: MapRequest) -> tuple:
        ckpt = self.checkpoint(request.checkpoint, request.randomized_model)
        return ckpt, request.image_path, request.method, dict(request.params)

    # --- cache ----------------------------------------------------------------------------------------

    def key(self, request: MapRequest) -> str:
        """The attribution-cache key of the map (checkpoint and image hashes, method, parameters, target)."""
        ckpt, image, method, params = self._call(request)
        if is_panel(method):
            return panel_key(ckpt.sha256, ckpt.card, file_content_sha256(image), method, params, request.target_index,
                             request.per_class)
        return self.service.key_for(ckpt, image, method, params, request.target_index)

    def has(self, request: MapRequest) -> bool:
        if is_panel(request.method):
            return self.key(request) in panel_cache(self.cache_dir)
        return self.key(request) in self.service.cache

    def _remember(self, request: MapRequest, served: ServedMap) -> ServedMap:
        with self._lock:
            self._pngs[request] = served
            self._pngs.move_to_end(request)
            while len(self._pngs) > PNG_CACHE_ENTRIES:
                self._pngs.popitem(last=False)
        return served

    def cached(self, request: MapRequest) -> ServedMap | None:
        """The served map if the attribution cache has it, else ``None`` (never computes)."""
        with self._lock:
            hit = self._pngs.get(request)
        if hit is not None:
            return hit
        if not self.has(request):
            return None
        return self.get_or_compute(request)

    def get_or_compute(self, request: MapRequest) -> ServedMap:
        """The served map, computing and caching the attribution first when it is missing. Several
        callers asking for the same missing map at once compute it once; the others wait, then read it."""
        with self._lock:
            hit = self._pngs.get(request)
            entry_lock = self._computing.setdefault(request, threading.Lock()) if hit is None else None
        if hit is not None:
            return hit
        with entry_lock:
            with self._lock:
                hit = self._pngs.get(request)
            if hit is not None:
                return hit
            served = self._serve(request)
        with self._lock:
            self._computing.pop(request, None)
        return served

    def serve_step(self, step) -> list[ServedMap]:
        """The maps of a plan's trial step (:class:`study_app.study.plan.TrialStep`), in order: what the engine
        records as shown, and what the page then draws from memory."""
        return [self.get_or_compute(MapRequest.on_trial(step.checkpoint, step.image_path, m.shown()))
                for m in step.maps]

    def wording_for(self, checkpoint: str) -> dict[str, str]:
        """What participants read for each class of ``checkpoint``'s tasks (empty: the class names)."""
        return self.wording.get(str(Path(checkpoint).resolve()), {})

    @property
    def cache_dir(self) -> Path:
        """The study's cache folder (maps, example pools' features, panels)."""
        return Path(self.service.cache.root)

    def _serve(self, request: MapRequest) -> ServedMap:
        ckpt, image, method, params = self._call(request)
        if is_panel(method):
            return self._remember(request, serve_panel(self, ckpt, request))
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=request.target_index)
        # Drawn over the trial's image in the one renderer: a placebo from another image looks like a real map.
        rendered = self.service.render(ckpt, request.drawn_over, explanation, method_label=request.label,
                                       colours=self.colours)
        return self._remember(request, ServedMap(
            png=rendered.png, alt_text=rendered.alt_text, description=rendered.description,
            png_sha256=hashlib.sha256(rendered.png).hexdigest(),
            cache_key=explanation.key, map_sha256=explanation.map_sha256,
            checkpoint_sha256=explanation.checkpoint_sha256, image_sha256=explanation.image_sha256,
            photo_sha256=file_content_sha256(request.drawn_over),
            target_index=explanation.target, target_label=explanation.target_label,
            faithfulness=dict(explanation.faithfulness) if explanation.faithfulness else None,
            convergence=_convergence(explanation.meta), colours=rendered.colours,
        ))

    def compute_faithfulness(self, request: MapRequest) -> dict:
        """Compute (or reuse) and store the faithfulness scores of one map; slow: for the researcher only. A panel
        has none (its quality figures come with it: :attr:`ServedMap.quality`)."""
        if is_panel(request.method):
            return {}
        ckpt, image, method, params = self._call(request)
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=request.target_index,
                                                  faithfulness=True)
        return dict(explanation.faithfulness or {})

    def faithfulness(self, request: MapRequest) -> dict:
        """Faithfulness scores stored with a cached map (by precompute), else empty; never computes."""
        if is_panel(request.method) or not self.has(request):
            return {}
        ckpt, image, method, params = self._call(request)
        explanation = self.service.get_or_compute(ckpt, image, method, params, target=request.target_index)
        return dict(explanation.faithfulness or {})

    def convergence(self, request: MapRequest) -> dict | None:
        """A cached sampled map's convergence record (``meta["convergence"]``: ``split_half_spearman``,
        ``n_evaluations``, ``stopped``); None when not cached or deterministic (nothing sampled); never computes."""
        if is_panel(request.method):
            return None
        served = self.cached(request)
        return None if served is None else served.convergence


def _convergence(meta: dict) -> dict | None:
    record = meta.get("convergence")
    return dict(record) if isinstance(record, dict) else None


def make_map_service(cache_dir: str | Path | None = None, colours: str | None = None, language: str | None = None,
                     wording: Mapping[str, Mapping[str, str]] | None = None) -> StudyMapService:
    return StudyMapService(cache_dir, colours=colours, language=language, wording=wording)
