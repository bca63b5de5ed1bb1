"""Fill the attribution cache ahead of a study, so participants never wait for LIME or Kernel SHAP.

:func:`precompute` takes (checkpoint directory, image path) pairs, so a study file can later be
precomputed with a thin wrapper that lists its stimuli. Reruns skip cached entries; failures of single
images are collected, not fatal, so one bad file does not stop a long run.

The work is a fixed, ordered job list (:func:`plan_jobs`: checkpoints, then images, then methods), so
several processes can each take a deterministic share of it (:mod:`study_app.explain.sharding`) and
together write exactly the cache one process would: see ``xai-study precompute`` under torchrun.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from study_app.explain.methods import get_method
from study_app.explain.service import ExplanationService
from study_app.explain.sharding import take_share
from trainers.checkpoint import load_checkpoint
from trainers.images import ImageLoadError, is_image_name
from trainers.progress import progress as progress_bar

MethodSpec = str | tuple[str, dict[str, Any]]


@dataclass
class PrecomputeSummary:
    """Counts of a precompute run; ``failed`` lists (checkpoint, image, method, error message)."""

    computed: int = 0
    cached: int = 0
    failed: list[tuple[str, str, str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return self.computed + self.cached + len(self.failed)

    @classmethod
    def combined(cls, parts: Iterable[PrecomputeSummary]) -> PrecomputeSummary:
        """The summary of a run split into parts (the ranks of a sharded run, which ran side by side)."""
        parts = list(parts)
        return cls(computed=sum(p.computed for p in parts), cached=sum(p.cached for p in parts),
                   failed=[f for p in parts for f in p.failed], seconds=max((p.seconds for p in parts), default=0.0))


def list_images(folder: str | Path) -> list[Path]:
    """Image files under ``folder`` (recursively), sorted for a reproducible order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"{folder}: not a folder of images")
    return sorted(p for p in folder.rglob("*") if p.is_file() and is_image_name(p))


def _normalise_methods(methods: Sequence[MethodSpec]) -> list[tuple[str, dict[str, Any]]]:
    specs = []
    for spec in methods:
        name, params = (spec, {}) if isinstance(spec, str) else spec
        get_method(name, **params)  # validate before any long computation starts
        specs.append((name, dict(params)))
    if not specs:
        raise ValueError("no methods given")
    return specs


class Job(NamedTuple):
    """One map to compute (the target is the model's top-1 prediction)."""

    checkpoint_dir: Path
    image: Path
    method: str
    params: dict[str, Any]


def plan_jobs(
    items: Iterable[tuple[str | Path, str | Path]], methods: Sequence[MethodSpec]
) -> list[Job]:
    """Every map of ``items`` × ``methods`` in the order one process computes them: checkpoints in order
    of first appearance (each is loaded once), then their images, then the methods. Validates the methods."""
    specs = _normalise_methods(methods)
    by_checkpoint: dict[Path, list[Path]] = {}
    for checkpoint_dir, image in items:
        by_checkpoint.setdefault(Path(checkpoint_dir), []).append(Path(image))
    return [
        Job(checkpoint_dir, image, name, params)
        for checkpoint_dir, images in by_checkpoint.items()
        for image in images
        for name, params in specs
    ]


def share_of_jobs(jobs: Sequence[Job], rank: int = 0, world: int = 1) -> list[Job]:
    """Shard ``rank`` of ``world``'s jobs, dealt per method so slow and fast methods spread evenly."""
    return take_share(jobs, rank, world, group=lambda job: job.method)


def precompute(
    items: Iterable[tuple[str | Path, str | Path]],
    methods: Sequence[MethodSpec],
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    shard: tuple[int, int] = (0, 1),
    **options: Any,
) -> PrecomputeSummary:
    """Compute the top-k prediction and every method's map for every (checkpoint_dir, image_path) pair.

    Args:
        items: pairs of checkpoint directory and image file; each checkpoint is loaded once.
        methods: registry names, or (name, params) pairs.
        cache_dir, progress: as for :func:`compute_jobs`.
        shard: ``(rank, world)``: compute only this share of the maps (see :func:`share_of_jobs`).
        options: ``faithfulness``, ``faithfulness_options``, ``device``, ``service``: as for :func:`compute_jobs`.
    """
    return compute_jobs(share_of_jobs(plan_jobs(items, methods), *shard), cache_dir, progress, **options)


def compute_jobs(
    jobs: Sequence[Job],
    cache_dir: str | Path | None = None,
    progress: bool = True,
    *,
    faithfulness: bool = False,
    faithfulness_options: dict[str, Any] | None = None,
    device: str = "cpu",
    service: ExplanationService | None = None,
) -> PrecomputeSummary:
    """Compute (or find cached) the maps of ``jobs``, in order.

    Args:
        jobs: from :func:`plan_jobs` (perhaps one shard of them, :func:`share_of_jobs`).
        cache_dir: the cache folder (default ``$XAI_STUDY_CACHE`` or ``.xai_cache/``).
        progress: show a progress bar on stderr.
        faithfulness: also compute the faithfulness scores of each map (``faithfulness_options``: overrides of
            :data:`~study_app.explain.service.DEFAULT_FAITHFULNESS_OPTIONS`).
        device: where to run the models.
        service: reuse an existing service instead of making one for ``cache_dir``.
    """
    service = service or ExplanationService(cache_dir)
    by_checkpoint: dict[Path, list[Job]] = {}
    for job in jobs:
        by_checkpoint.setdefault(job.checkpoint_dir, []).append(job)
    summary = PrecomputeSummary()
    start = time.perf_counter()
    with progress_bar(total=len(jobs), enabled=progress, unit="map", desc="precompute") as bar:
        for checkpoint_dir, checkpoint_jobs in by_checkpoint.items():
            checkpoint = load_checkpoint(checkpoint_dir, device)
            for _, image, name, params in checkpoint_jobs:
                bar.set_postfix_str(f"{image.name} {name}", refresh=False)
                try:
                    result = service.get_or_compute(
                        checkpoint,
                        image,
                        name,
                        params,
                        faithfulness=faithfulness,
                        faithfulness_options=faithfulness_options,
                    )
                except (ImageLoadError, OSError, ValueError) as exc:
                    summary.failed.append((str(checkpoint_dir), str(image), name, str(exc)))
                else:
                    if result.from_cache:
                        summary.cached += 1
                    else:
                        summary.computed += 1
                bar.update()
    summary.seconds = time.perf_counter() - start
    return summary
