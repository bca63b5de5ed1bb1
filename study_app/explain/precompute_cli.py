"""``xai-study precompute``: fill the attribution cache for every image of a folder.

Examples::

    xai-study precompute --study demo/study.toml        # every map the study can show, into its cache
    xai-study precompute --study demo/study.toml --prune    # ... and drop maps it can no longer show

    xai-study precompute --checkpoint checkpoints/catdog_resnet18 --images stimuli/ \\
        --methods lime kernel_shap gradcam --cache .xai_cache
"""

from __future__ import annotations

import argparse
import sys

from study_app.explain.cli_args import add_common_arguments, parse_method_specs
from study_app.explain.precompute import list_images, precompute
from trainers.checkpoint import CheckpointError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument("--study", default=None,
                        help="a study file: precompute every map its trials can show (then --checkpoint, "
                             "--images and --methods come from the file)")
    for action in parser._actions:  # with --study, these come from the study file
        if action.dest in ("checkpoint", "images"):
            action.required = False
    parser.add_argument("--faithfulness", action="store_true", help="also compute faithfulness scores (slow)")
    parser.add_argument("--prune", action="store_true",
                        help="with --study: then delete cached maps the study can no longer show (e.g. of a "
                             "replaced checkpoint or a removed stimulus); only for a cache folder the study owns")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run_for_study(args: argparse.Namespace) -> int:
    """Fill the cache with exactly the maps the app will ask for (the same requests as its readiness check)."""
    from tqdm.auto import tqdm

    from study_app.study import StudyFileError, load_study
    from study_app.ui.cache_status import precompute_study, required_maps, study_cache_dir
    from study_app.ui.map_service import make_map_service

    try:
        study = load_study(args.study)
    except StudyFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    folder = args.cache or study_cache_dir(study)
    if args.prune and not folder:
        print("error: --prune deletes what this study does not use, so it needs the study's own cache folder: "
              "set [study] cache in the study file, or pass --cache DIR", file=sys.stderr)
        return 2
    service = make_map_service(folder)
    needed = required_maps(study)
    total = len(needed)
    with tqdm(total=total, unit="map", desc="precompute", disable=args.no_progress) as bar:
        computed = precompute_study(study, service, progress=lambda done, _total: bar.update(done - bar.n))
    print(f"{computed} computed, {total - computed} already cached ({total} maps) in {service.service.cache.root}")
    if args.faithfulness:  # stored beside each map, for the gallery and the CSV export
        for _, request in tqdm(needed, unit="map", desc="faithfulness", disable=args.no_progress):
            service.compute_faithfulness(request)
        print(f"faithfulness scores stored for {total} maps")
    if args.prune:
        cache = service.service.cache
        keep = {service.key(request) for _, request in needed}
        stale = [key for key in cache.keys() if key not in keep]
        removed = sum(cache.remove(key) for key in stale)
        print(f"pruned {removed} cached maps the study no longer uses; {len(keep)} kept")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.study:
        return run_for_study(args)
    if args.prune:
        print("error: --prune needs --study (only a study knows which maps are still needed)", file=sys.stderr)
        return 2
    if not args.checkpoint or not args.images:
        print("error: give --study FILE, or --checkpoint DIR and --images DIR", file=sys.stderr)
        return 2
    try:
        specs = parse_method_specs(args.methods, args.param)
        images = list_images(args.images)[: args.limit]
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not images:
        print(f"error: no images found under {args.images}", file=sys.stderr)
        return 2
    try:
        summary = precompute(
            [(args.checkpoint, image) for image in images],
            specs,
            cache_dir=args.cache,
            progress=not args.no_progress,
            faithfulness=args.faithfulness,
            device=args.device,
        )
    except CheckpointError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(
        f"{summary.computed} computed, {summary.cached} already cached, {len(summary.failed)} failed "
        f"({summary.total} maps, {summary.seconds:.1f} s)"
    )
    for _checkpoint, image, method, error in summary.failed:
        print(f"failed: {image} [{method}]: {error}", file=sys.stderr)
    return 1 if summary.failed else 0
