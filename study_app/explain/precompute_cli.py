"""``xai-study precompute``: fill the attribution cache for every image of a folder.

Examples::

    xai-study precompute --study demo/study.toml        # every map the study can show, into its cache
    xai-study precompute --study demo/study.toml --prune    # ... and drop maps it can no longer show

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
"""

from __future__ import annotations

import argparse
import sys

from study_app.explain.cli_args import add_common_arguments, parse_method_specs
from study_app.explain.precompute import (
    PrecomputeSummary,
    compute_jobs,
    list_images,
    plan_jobs,
    share_of_jobs,
)
from study_app.explain.sharding import (
    Ranks,
    Shard,
    current_shard,
    limit_cpu_threads,
    shard_device,
    take_share,
)
from trainers.checkpoint import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--study", default=None,
                        help="a study file: precompute every map its trials can show (then --checkpoint, "
                             "--images and --methods come from the file)")
    for action in parser._actions:
        if action.dest in ("checkpoint", "images"):  # with --study, these come from the study file
            action.required = False
        if action.dest == "device":  # one GPU per torchrun rank
            action.default = "auto"
            action.help = "torch device: auto (cuda:LOCAL_RANK when CUDA is available, else cpu), cpu, cuda"
    parser.add_argument("--faithfulness", action="store_true", help="also compute faithfulness scores (slow)")
    parser.add_argument("--prune", action="store_true",
                        help="with --study: then delete cached maps the study can no longer show (e.g. of a "
                             "replaced checkpoint or a removed stimulus); only for a cache folder the study owns")
    parser.add_argument("--shard", default=None, metavar="K/N",
                        help="compute only share K of N (0 <= K < N) of the maps, for launchers other than "
                             "torchrun (which shards by itself), e.g. --shard $SLURM_ARRAY_TASK_ID/4")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def _error(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def _device(args: argparse.Namespace, shard: Shard):
    """This process's device and, on the CPU under torchrun, its thread count (None if left alone)."""
    device = shard_device(args.device, shard)
    return device, limit_cpu_threads(shard, device)


def _announce(shard: Shard, mine: int, total: int, device, threads: int | None) -> None:
    if shard.active:
        extra = f", {threads} thread{'' if threads == 1 else 's'}" if threads else ""
        print(f"{shard.label}: {mine} of {total} maps on {device}{extra}", flush=True)


def _place_models(service, requests, device) -> None:
    """The study's map service loads checkpoints on the CPU; move those this process needs to its device.
    All are loaded first: the negative control's weight-randomised copy must be made from CPU weights,
    because its seeded re-initialisation draws different numbers on a GPU, and the cache key (the trained
    weights' hash) would not tell the two apart."""
    if device.type == "cpu":
        return
    wanted = {(r.checkpoint, False) for r in requests} | {(r.checkpoint, True) for r in requests if r.randomized_model}
    loaded = [service.checkpoint(directory, randomized) for directory, randomized in sorted(wanted)]
    for checkpoint in loaded:
        checkpoint.model.to(device)


def run_for_study(args: argparse.Namespace, shard: Shard, device, threads: int | None) -> int:
    """Fill the cache with exactly the maps the app will ask for (the same requests as its readiness check)."""
    from tqdm.auto import tqdm

    from study_app.study import StudyFileError, load_study
    from study_app.ui.cache_status import required_maps, study_cache_dir
    from study_app.ui.map_service import make_map_service

    try:
        study = load_study(args.study)
    except StudyFileError as exc:
        return _error(str(exc))
    folder = args.cache or study_cache_dir(study)
    if args.prune and not folder:
        return _error("--prune deletes what this study does not use, so it needs the study's own cache folder: "
                      "set [study] cache in the study file, or pass --cache DIR")
    with Ranks(shard) as ranks:
        service = make_map_service(folder)
        needed = required_maps(study)
        mine = take_share(needed, shard.rank, shard.world, group=lambda item: item[1].method)
        _announce(shard, len(mine), len(needed), device, threads)
        _place_models(service, [request for _, request in mine], device)
        show = shard.reports and not args.no_progress
        computed = 0
        for _, request in tqdm(mine, unit="map", desc="precompute", disable=not show):
            if not service.has(request):
                service.get_or_compute(request)
                computed += 1
        if args.faithfulness:  # stored beside each map, for the gallery and the CSV export
            for _, request in tqdm(mine, unit="map", desc="faithfulness", disable=not show):
                service.compute_faithfulness(request)
        counts = ranks.gather((computed, len(mine)))  # every rank's writes are done after this
    if not shard.reports:
        return 0
    computed, total = (sum(column) for column in zip(*counts, strict=True))
    print(f"{computed} computed, {total - computed} already cached ({total} maps) in {service.service.cache.root}")
    if args.faithfulness:
        print(f"faithfulness scores stored for {total} maps")
    if args.prune:  # one process only (--shard refuses --prune), after all ranks wrote
        cache = service.service.cache
        keep = {service.key(request) for _, request in needed}
        stale = [key for key in cache.keys() if key not in keep]
        removed = sum(cache.remove(key) for key in stale)
        print(f"pruned {removed} cached maps the study no longer uses; {len(keep)} kept")
    return 0


def run(args: argparse.Namespace) -> int:
    try:
        shard = current_shard(args.shard)
    except ValueError as exc:
        return _error(str(exc))
    if args.prune and shard.active and not shard.torchrun:
        return _error("--prune with --shard would delete while other shards still write: run it once, "
                      "without --shard, after every shard finished")
    try:
        device, threads = _device(args, shard)
    except (RuntimeError, ValueError) as exc:
        return _error(f"--device {args.device}: {exc}")
    if args.study:
        return run_for_study(args, shard, device, threads)
    if args.prune:
        return _error("--prune needs --study (only a study knows which maps are still needed)")
    if not args.checkpoint or not args.images:
        return _error("give --study FILE, or --checkpoint DIR and --images DIR")
    try:
        specs = parse_method_specs(args.methods, args.param)
        images = list_images(args.images)[: args.limit]
    except ValueError as exc:
        return _error(str(exc))
    if not images:
        return _error(f"no images found under {args.images}")
    jobs = plan_jobs([(args.checkpoint, image) for image in images], specs)
    mine = share_of_jobs(jobs, shard.rank, shard.world)
    with Ranks(shard) as ranks:
        _announce(shard, len(mine), len(jobs), device, threads)
        error = None
        try:
            summary = compute_jobs(mine, args.cache, progress=shard.reports and not args.no_progress,
                                   faithfulness=args.faithfulness, device=str(device))
        except CheckpointError as exc:  # still meet the other ranks, so none waits for this one
            summary, error = PrecomputeSummary(), str(exc)
        results = ranks.gather((summary, error))
    errors = [e for _, e in results if e]
    if errors:
        return _error(errors[0]) if shard.reports else 2
    summary = PrecomputeSummary.combined(s for s, _ in results)
    if shard.reports:
        ranks_note = f" on {shard.world} ranks" if shard.torchrun else ""
        print(
            f"{summary.computed} computed, {summary.cached} already cached, {len(summary.failed)} failed "
            f"({summary.total} maps, {summary.seconds:.1f} s{ranks_note})"
        )
        for _checkpoint, image, method, error in summary.failed:
            print(f"failed: {image} [{method}]: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
