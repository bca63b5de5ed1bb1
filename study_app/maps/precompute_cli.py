"""``xai-study precompute``: fill the attribution cache with every map a study can show, or a folder's.

Examples::

    xai-study precompute --study demo/study.toml        # every map the study can show, into its cache
    xai-study precompute --study demo/study.toml --prune    # ... and drop maps it can no longer show
    xai-study precompute --checkpoint checkpoints/catdog_resnet18 --images stimuli/ --methods gradcam

Without ``--study`` the command is :mod:`study_app.explain.precompute_cli` (an image folder, no study);
sharding (torchrun, ``--shard K/N``) is described there and works the same for a study.
"""

from __future__ import annotations

import argparse
from collections import Counter

from study_app.explain import precompute_cli as folder_cli
from study_app.explain.estimate import CostModel, announce_estimate, first_of_each, timed
from study_app.explain.precompute_cli import announce, error, placement
from study_app.explain.service import DEFAULT_FAITHFULNESS_OPTIONS
from study_app.explain.sharding import Ranks, Shard, take_share
from study_app.maps.coverage import required_maps, study_cache_dir, study_owns_cache
from study_app.maps.service import make_map_service
from study_app.study import StudyFileError, load_study
from trainers.images import open_rgb
from trainers.predict import predict_topk
from trainers.progress import progress as progress_bar


def add_arguments(parser: argparse.ArgumentParser) -> None:
    folder_cli.add_arguments(parser)
    parser.add_argument("--study", default=None,
                        help="a study file: precompute every map its trials can show (then --checkpoint, "
                             "--images and --methods come from the file)")
    parser.add_argument("--prune", action="store_true",
                        help="with --study: then delete cached maps the study can no longer show (e.g. of a "
                             "replaced checkpoint or a removed stimulus); only for a cache folder the study owns")


def run(args: argparse.Namespace) -> int:
    if args.prune and args.shard:
        return error("--prune with --shard would delete while other shards still write: run it once, "
                     "without --shard, after every shard finished")
    if args.prune and not args.study:
        return error("--prune needs --study (only a study knows which maps are still needed)")
    placed = placement(args)
    if isinstance(placed, int):
        return placed
    if args.study:
        return run_for_study(args, *placed)
    if not args.checkpoint or not args.images:
        return error("give --study FILE, or --checkpoint DIR and --images DIR")
    return folder_cli.run_for_folder(args, *placed)


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


def estimate_study(service, requests: list, faithfulness: bool, shard: Shard) -> int:
    """Print how many maps are missing and about how long they take, timing the first missing map of each
    method (computed and cached now; see :mod:`study_app.explain.estimate`). With ``--faithfulness``, the
    maps without stored scores are counted too. Returns how many maps it computed."""
    missing = list({service.key(r): r for r in requests if not service.has(r)}.values())  # one per entry: a
    model = CostModel()  # concepts panel is the same for every image of a class
    maps = Counter(r.method for r in missing)
    for request in first_of_each(missing, lambda r: r.method):
        model.time_map(request.method, lambda r=request: service.get_or_compute(r))
        maps[request.method] -= 1
    options = None
    scores = None
    unscored = [r for r in requests if faithfulness and not service.faithfulness(r)]
    if unscored:
        options = DEFAULT_FAITHFULNESS_OPTIONS
        scores = Counter(r.method for r in unscored)
        for request in first_of_each(unscored, lambda r: r.method):
            if request.method not in model.map_seconds:
                model.time_map(request.method, lambda r=request: service.get_or_compute(r))
        ckpt = service.checkpoint(unscored[0].checkpoint, False)
        model.forward_seconds = timed(lambda: predict_topk(ckpt, [open_rgb(unscored[0].image_path)], k=1))
    if shard.reports:
        what = "maps" if shard.world == 1 else f"maps of this share ({shard.label})"
        if unscored:
            what += f" and {len(unscored)} faithfulness scores"
        announce_estimate(what, len(missing), len(requests) - len(missing), model.seconds(maps, scores, options),
                 model.basis(options))
    return len(first_of_each(missing, lambda r: r.method))


def run_for_study(args: argparse.Namespace, shard: Shard, device, threads: int | None) -> int:
    """Fill the cache with exactly the maps the app will ask for (the same requests as its readiness check)."""
    try:
        study = load_study(args.study)
    except StudyFileError as exc:
        return error(str(exc))
    if args.prune and not (args.cache or study_owns_cache(study)):
        return error("--prune deletes what this study does not use, so it needs the study's own cache folder: "
                     "set [study] cache in the study file, or pass --cache DIR")
    folder = args.cache or study_cache_dir(study)
    with Ranks(shard) as ranks:
        service = make_map_service(folder)
        needed = required_maps(study)
        mine = take_share(needed, shard.rank, shard.world, group=lambda item: item[1].method)
        announce(shard, len(mine), len(needed), device, threads)
        _place_models(service, [request for _, request in mine], device)
        show = shard.reports and not args.no_progress
        computed = estimate_study(service, [request for _, request in mine], args.faithfulness, shard)
        for _, request in progress_bar(mine, unit="map", desc="precompute", enabled=show):
            if not service.has(request):
                service.get_or_compute(request)
                computed += 1
        if args.faithfulness:  # stored beside each map, for the gallery and the CSV export
            for _, request in progress_bar(mine, unit="map", desc="faithfulness", enabled=show):
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
