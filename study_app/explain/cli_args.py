"""Arguments shared by ``xai-study precompute`` and ``xai-study faithfulness``."""

from __future__ import annotations

import argparse
import json
from typing import Any

from study_app.explain.methods import DEFAULT_TRIO, METHODS, get_method


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, help="checkpoint directory (card.json + model.pt)")
    parser.add_argument("--images", required=True, help="folder of images (searched recursively)")
    parser.add_argument(
        "--methods",
        nargs="+",
        default=list(DEFAULT_TRIO),
        metavar="METHOD",
        help=f"explanation methods (default: {' '.join(DEFAULT_TRIO)}; available: {', '.join(METHODS)})",
    )
    parser.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="METHOD.NAME=VALUE",
        help="override a method parameter, e.g. lime.n_samples=300 (repeatable; VALUE is JSON or text)",
    )
    parser.add_argument(
        "--cache", default=None, help="cache folder (default: $XAI_STUDY_CACHE or ./.xai_cache)"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda")
    parser.add_argument("--limit", type=int, default=None, help="only the first N images (sorted by path)")


def parse_method_specs(methods: list[str], overrides: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """(name, params) per method, with ``--param`` overrides applied and validated."""
    params: dict[str, dict[str, Any]] = {name: {} for name in methods}
    for item in overrides:
        target, sep, raw = item.partition("=")
        name, dot, key = target.partition(".")
        if not sep or not dot or not key:
            raise ValueError(f"--param {item!r}: expected METHOD.NAME=VALUE, e.g. lime.n_samples=300")
        if name not in params:
            raise ValueError(f"--param {item!r}: method {name!r} is not among --methods {' '.join(methods)}")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        params[name][key] = value
    for name in methods:
        get_method(name, **params[name])  # raises a clear ValueError for unknown names/parameters
    return [(name, params[name]) for name in methods]
