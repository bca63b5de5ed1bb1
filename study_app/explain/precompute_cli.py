"""``xai-study precompute``: fill the attribution cache for every image of a folder.

Example::

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
    parser.add_argument("--faithfulness", action="store_true", help="also compute faithfulness scores (slow)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
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
