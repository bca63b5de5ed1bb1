"""Every map a study can show, and whether the attribution cache holds it. No Streamlit here.

A participant may see any stimulus of a task (attention checks draw from all of them) with any of the
study's methods (the negative control included); distinction trials show one map per candidate class
(the model's top-k); a decision task's placebo is its method on the weight-randomised model, or another
stimulus's map for the class the shown image's advice names (:mod:`study_app.study.placebo`: a stimulus
predicted as that class, whose own map is already listed, else any other stimulus, whose map of that class is
added here). Precomputing exactly this set is what keeps participants from waiting. Every request names the
class it explains (from the task's predictions), as the plan's trial steps do.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from study_app.explain.cache import DEFAULT_CACHE_DIRNAME, resolve_cache_dir
from study_app.maps.service import MapRequest, make_map_service
from study_app.study.predictions import model_class_names, predict_task
from study_app.study.protocols import protocol_of


def study_cache_dir(study) -> Path:
    """The study's attribution cache folder (:func:`~study_app.explain.cache.resolve_cache_dir`:
    ``$XAI_STUDY_CACHE``, else the study file's ``cache`` folder, else ``.xai_cache/``). Decided here, once
    per caller, and passed to the map service: the app, precompute, the readiness check and the export agree."""
    return resolve_cache_dir(getattr(study, "cache_dir", None))


def study_owns_cache(study) -> bool:
    """Whether the study's folder was chosen for it (``$XAI_STUDY_CACHE`` or ``[study] cache``) rather than
    being the shared default ``.xai_cache/``, where maps of other studies may live (prune refuses those)."""
    return study_cache_dir(study).resolve() != (Path.cwd() / DEFAULT_CACHE_DIRNAME).resolve()


def map_request(task, stimulus, method, preds, target: str | None = None, per_class: bool | None = None) -> MapRequest:
    """The request for ``method`` (a study ``MethodConfig``) on one stimulus of ``task``: ``target`` names the
    class to explain, ``None`` the model's prediction (``preds``: the task's ``TaskPredictions``). A panel explains
    a named ``target`` as a candidate class (distinction) unless ``per_class=False`` (a placebo of another image
    explaining the shown image's predicted class)."""
    label = target or preds.by_image[stimulus.image_id].label
    names = model_class_names(task, preds)
    request = MapRequest.of(task.checkpoint, stimulus.path, method.shown(target), target_index=list(names).index(label))
    return request if per_class is None else replace(request, per_class=per_class)


def required_maps(study, predictions=None) -> list[tuple[str, MapRequest]]:
    """``(description, request)`` for every map the study can show. ``predictions`` (task name →
    TaskPredictions) give the classes explained; computed for the tasks it lacks."""
    out = []
    for task in study.tasks:
        if predictions is None or task.name not in predictions:
            predictions = {**(predictions or {}), task.name: predict_task(task)}
        preds = predictions[task.name]
        out += protocol_of(task.protocol).required_maps(study, task, preds, map_request)
    return out


def missing_cache_entries(study, service=None, predictions=None) -> tuple[int, list[str]]:
    """``(number of maps the study needs, descriptions of those not cached)``."""
    service = service or make_map_service(study_cache_dir(study))
    needed = required_maps(study, predictions)
    return len(needed), [where for where, request in needed if not service.has(request)]


def precompute_study(study, service=None, predictions=None, progress=None) -> int:
    """Compute every missing map (the negative control and distinction targets included); returns how
    many were computed. ``progress(done, total)`` is called after each map."""
    service = service or make_map_service(study_cache_dir(study))
    needed = required_maps(study, predictions)
    computed = 0
    for i, (_, request) in enumerate(needed, start=1):
        if not service.has(request):
            service.get_or_compute(request)
            computed += 1
        if progress:
            progress(i, len(needed))
    return computed


def warm_rendered_maps(study, service, predictions=None) -> tuple[int, int]:
    """Render every cached map of the study into the service's in-memory PNG cache, so even the first
    participants read ready PNGs; returns ``(rendered, missing)``."""
    rendered = missing = 0
    for _, request in required_maps(study, predictions):
        if service.cached(request) is None:
            missing += 1
        else:
            rendered += 1
    return rendered, missing
