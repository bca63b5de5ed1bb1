"""Every map a study can show, and whether the attribution cache holds it. No Streamlit here.

A participant may see any stimulus of a task (attention checks draw from all of them) with any of the
study's methods (the negative control included); distinction trials show one map per candidate class
(the model's top-k). Precomputing exactly this set is what keeps participants from waiting.
"""

from __future__ import annotations

import os

from study_app.study.steps import DISTINCTION, ShownMethod
from study_app.ui.map_service import CACHE_ENV, MapRequest, make_map_service


def study_cache_dir(study) -> str | None:
    """``$XAI_STUDY_CACHE`` wins; else the study file's ``cache`` folder; else the service's default."""
    return os.environ.get(CACHE_ENV) or getattr(study, "cache_dir", None)


def required_maps(study, predictions=None) -> list[tuple[str, MapRequest]]:
    """``(description, request)`` for every map the study can show. ``predictions`` (task name →
    TaskPredictions) gives distinction's candidate classes; computed when needed and not given."""
    out = []
    for task in study.tasks:
        if task.protocol == DISTINCTION and (predictions is None or task.name not in predictions):
            from study_app.study.predictions import predict_task  # noqa: PLC0415

            predictions = {**(predictions or {}), task.name: predict_task(task)}
        for stim in task.stimuli:
            targets: list[str | None] = [None]
            if task.protocol == DISTINCTION:
                targets = [label for label, _ in predictions[task.name].by_image[stim.image_id].topk[: task.k]]
            for m in study.methods:
                for target in targets:
                    shown = ShownMethod(key=m.key, name=m.name, label=m.label, params=dict(m.params),
                                        randomized_model=m.randomized_model, target=target)
                    where = f"{task.name}/{stim.image_id} × {m.key}" + (f" → {target}" if target else "")
                    out.append((where, MapRequest.of(task.checkpoint, stim.path, shown)))
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
