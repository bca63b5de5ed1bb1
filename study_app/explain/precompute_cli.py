"""``xai-study precompute`` for an image folder: fill the attribution cache for every image of it.

``--study`` (every map a study can show) is added by :mod:`study_app.maps.precompute_cli`, the command's
entry point; this module is the folder half and the sharding both halves share. Examples::

    xai-study precompute --checkpoint checkpoints/catdog_resnet18 --images stimuli/ \\
        --methods lime kernel_shap gradcam --cache .xai_cache

More maps than one machine's patience: run it under torchrun, one process per GPU (or, without GPUs,
several CPU processes sharing the cores); each rank computes its share of the same ordered map list
into the one cache folder, rank 0 prints the summary and runs ``--prune`` after every rank finished::

    torchrun --standalone --nproc_per_node=4 -m study_app.cli precompute --study study.toml
    torchrun --nnodes=2 --nproc_per_node=8 --rdzv-backend=c10d --rdzv-endpoint=HOST:29500 \\
        -m study_app.cli precompute --study study.toml      # two machines sharing the cache folder

Other launchers (a slurm array, separate machines sharing the folder) pass the share themselves, e.g.
``--array=0-3`` with ``--shard $SLURM_ARRAY_TASK_ID/4``; ``--prune`` then runs once, after all shards,
without ``--shard``. Every process computes the same map list, so shares never overlap; a rerun skips
what is cached (shares are of all maps, so after a partial run they may be uneven).

Before the long loop the command says how many maps are missing and about how long they will take (the
first missing map of each method is computed and timed: :mod:`study_app.explain.estimate`).
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter

from study_app.explain.cli_args import add_common_arguments, parse_method_specs
from study_app.explain.estimate import CostModel, announce_estimate, first_of_each, timed
from study_app.explain.precompute import (
    PrecomputeSummary,
    compute_jobs,
    list_images,
    plan_jobs,
    share_of_jobs,
)
from study_app.explain.service import DEFAULT_FAITHFULNESS_OPTIONS, ExplanationService
from study_app.explain.sharding import (
    Ranks,
    Shard,
    current_shard,
    limit_cpu_threads,
    shard_device,
)
from trainers.checkpoint import CheckpointError, load_checkpoint
from trainers.images import ImageLoadError, open_rgb
from trainers.predict import predict_topk


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    for action in parser._actions:
        if action.dest in ("checkpoint", "images"):  # checked in run: a study file may stand in for them
            action.required = False
        if action.dest == "device":  # one GPU per torchrun rank
            action.default = "auto"
            action.help = "torch device: auto (cuda:LOCAL_RANK when CUDA is available, else cpu), cpu, cuda"
    parser.add_argument("--faithfulness", action="store_true", help="also compute faithfulness scores (slow)")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="compute only share K of N (0 <= K < N) of the maps, for launchers other than "
                             "torchrun (which shards by itself), e.g. --shard $SLURM_ARRAY_TASK_ID/4")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def device_for(args: argparse.Namespace, shard: Shard):
    """This process's device and, on the CPU under torchrun, its thread count (None if left alone)."""
    device = shard_device(args.device, shard)
    return device, limit_cpu_threads(shard, device)


def announce(shard: Shard, mine: int, total: int, device, threads: int | None) -> None:
    if shard.active:
        extra = f", {threads} thread{'' if threads == 1 else 's'}" if threads else ""
        # one write of the whole line: print() writes the text and the newline apart, and two ranks sharing a
        # pipe then interleaved as "…1 threadrank 0/2: …" (seen in CI)
        sys.stdout.write(f"{shard.label}: {mine} of {total} maps on {device}{extra}\n")
        sys.stdout.flush()


def placement(args: argparse.Namespace) -> tuple[Shard, object, int | None] | int:
    """``(shard, device, threads)`` of this process, or the exit code of a refused ``--shard``/``--device``."""
    try:
        shard = current_shard(args.shard)
    except ValueError as exc:
        return error(str(exc))
    try:
        device, threads = device_for(args, shard)
    except (RuntimeError, ValueError) as exc:
        return error(f"--device {args.device}: {exc}")
    return shard, device, threads


def run(args: argparse.Namespace) -> int:
    placed = placement(args)
    if isinstance(placed, int):
        return placed
    if not args.checkpoint or not args.images:
        return error("give --checkpoint DIR and --images DIR")
    return run_for_folder(args, *placed)


def estimate_folder(jobs: list, service: ExplanationService, device, faithfulness: bool, shard: Shard) -> int:
    """Print how many of ``jobs``' maps are missing and about how long they take; the first missing map of
    each method is computed (and cached) now to time it (returns how many that computed). With ``--faithfulness`` every map counts as a
    score to compute (one already stored costs nothing: the figure is then an upper bound)."""
    checkpoints = {d: load_checkpoint(d, str(device)) for d in dict.fromkeys(j.checkpoint_dir for j in jobs)}

    def cached(job) -> bool:
        try:
            return service.key_for(checkpoints[job.checkpoint_dir], job.image, job.method, job.params) in service.cache
        except (ImageLoadError, OSError, ValueError):
            return False  # fails again in the loop, which reports it

    missing = [j for j in jobs if not cached(j)]
    model, maps = CostModel(), Counter(j.method for j in missing)
    probes = first_of_each(missing, lambda j: j.method)
    if faithfulness:
        probes += [j for j in first_of_each(jobs, lambda j: j.method) if j.method not in maps]
    for job in probes:
        try:
            model.time_map(job.method, lambda j=job: service.get_or_compute(
                checkpoints[j.checkpoint_dir], j.image, j.method, j.params))
        except (ImageLoadError, OSError, ValueError):
            model.map_seconds[job.method] = 0.0
        maps[job.method] -= job in missing
    scores = Counter(j.method for j in jobs) if faithfulness else None
    if faithfulness and jobs:
        first = jobs[0]
        model.forward_seconds = timed(lambda: predict_topk(checkpoints[first.checkpoint_dir], [open_rgb(first.image)], k=1))
    if shard.reports:
        what = "maps" if not shard.active else f"maps of this share ({shard.label})"
        options = DEFAULT_FAITHFULNESS_OPTIONS if faithfulness else None
        announce_estimate(what, len(missing), len(jobs) - len(missing), model.seconds(maps, scores, options),
                          model.basis(options))
    return sum(job in missing for job in probes)


def run_for_folder(args: argparse.Namespace, shard: Shard, device, threads: int | None) -> int:
    """Every image of ``--images`` with every ``--methods`` entry on ``--checkpoint``."""
    try:
        specs = parse_method_specs(args.methods, args.param)
        images = list_images(args.images)[: args.limit]
    except ValueError as exc:
        return error(str(exc))
    if not images:
        return error(f"no images found under {args.images}")
    jobs = plan_jobs([(args.checkpoint, image) for image in images], specs)
    mine = share_of_jobs(jobs, shard.rank, shard.world)
    with Ranks(shard) as ranks:
        announce(shard, len(mine), len(jobs), device, threads)
        problem = None
        try:
            service = ExplanationService(args.cache)
            probed = estimate_folder(mine, service, device, args.faithfulness, shard)
            summary = compute_jobs(mine, args.cache, progress=shard.reports and not args.no_progress,
                                   faithfulness=args.faithfulness, device=str(device), service=service)
            summary.computed, summary.cached = summary.computed + probed, summary.cached - probed
        except CheckpointError as exc:  # still meet the other ranks, so none waits for this one
            summary, problem = PrecomputeSummary(), str(exc)
        results = ranks.gather((summary, problem))
    errors = [e for _, e in results if e]
    if errors:
        return error(errors[0]) if shard.reports else 2
    summary = PrecomputeSummary.combined(s for s, _ in results)
    if shard.reports:
        ranks_note = f" on {shard.world} ranks" if shard.torchrun else ""
        print(
            f"{summary.computed} computed, {summary.cached} already cached, {len(summary.failed)} failed "
            f"({summary.total} maps, {summary.seconds:.1f} s{ranks_note})"
        )
        for _checkpoint, image, method, reason in summary.failed:
            print(f"failed: {image} [{method}]: {reason}", file=sys.stderr)
    return 1 if summary.failed else 0
