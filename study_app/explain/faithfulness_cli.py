"""``xai-study faithfulness``: deletion/insertion AUC, infidelity, max-sensitivity and the randomisation
sanity check for every image × method of a folder; writes a CSV and prints a per-method summary. For the
sampled methods (LIME, Kernel SHAP) the CSV also gives each map's convergence: ``split_half_spearman`` (Spearman
rank correlation over the map's pixels between the maps fitted on two disjoint halves of its samples,
:mod:`study_app.explain.surrogates`) and ``n_evaluations`` (model evaluations spent); both are empty for
deterministic methods.

Before the long loop it says how many scores are missing and about how long they will take (a per-method
cost model timed on this machine: :mod:`study_app.explain.estimate`); scores already in the attribution
cache are reused. The CSV goes to ``runs/`` (git-ignored) unless ``--out`` says otherwise. Example::

    xai-study faithfulness --checkpoint checkpoints/catdog_resnet18 --images stimuli/ --out runs/faith.csv
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from pathlib import Path

from study_app.explain.cli_args import add_common_arguments, parse_method_specs
from study_app.explain.estimate import CostModel, announce_estimate, first_of_each, timed
from study_app.explain.faithfulness import METRIC_NAMES
from study_app.explain.precompute import list_images
from study_app.explain.service import DEFAULT_FAITHFULNESS_OPTIONS, ExplanationService
from trainers.checkpoint import CheckpointError, load_checkpoint
from trainers.images import ImageLoadError, open_rgb
from trainers.predict import predict_topk
from trainers.progress import progress as progress_bar

DEFAULT_OUT = Path("runs") / "faithfulness.csv"

CSV_COLUMNS = (
    "image",
    "image_sha256",
    "checkpoint_sha256",
    "method",
    "target",
    "target_label",
    "probability",
    *METRIC_NAMES,
    "split_half_spearman",  # a sampled map's convergence (explain.surrogates); empty for deterministic methods
    "n_evaluations",  # model evaluations the sampled map spent; empty for deterministic methods
    "explain_seconds",
    "map_sha256",
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_common_arguments(parser)
    parser.add_argument(
        "--out", default=str(DEFAULT_OUT), help=f"CSV file to write (default: {DEFAULT_OUT})"
    )
    parser.add_argument("--steps", type=int, default=20, help="deletion/insertion steps")
    parser.add_argument("--infidelity-samples", type=int, default=16, help="0 skips infidelity")
    parser.add_argument(
        "--sensitivity-samples", type=int, default=4, help="0 skips max-sensitivity (the slowest)"
    )
    parser.add_argument("--no-sanity", action="store_true", help="skip the model-randomisation check")


def summary_table(rows: list[dict]) -> str:
    """Mean of each metric per method (NaNs ignored), as aligned text."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    header = f"{'method':<22}{'n':>4}" + "".join(f"{m:>24}" for m in METRIC_NAMES)
    lines = [header]
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        cells = []
        for metric in METRIC_NAMES:
            values = [r[metric] for r in mine if isinstance(r[metric], float) and not math.isnan(r[metric])]
            cells.append(f"{sum(values) / len(values):>24.4f}" if values else f"{'-':>24}")
        lines.append(f"{method:<22}{len(mine):>4}" + "".join(cells))
    lines.append(
        "lower is better: deletion_auc, infidelity, sensitivity_max; higher: insertion_auc; "
        "randomization_spearman: near 0 passes the sanity check, near 1 fails it"
    )
    return "\n".join(lines)


def _convergence_cells(meta: dict) -> dict:
    """The CSV's convergence cells of one map: its split-half Spearman and model evaluations (empty when the
    method samples nothing, or, for the split-half, when no halves could be formed)."""
    record = meta.get("convergence") or {}
    value = record.get("split_half_spearman")
    return {"split_half_spearman": "" if value is None else value, "n_evaluations": record.get("n_evaluations", "")}


def _state(service: ExplanationService, checkpoint, image: Path, name: str, params: dict, options: dict):
    """``("done" | "map" | "missing", the cached map's metadata or None)`` for one image × method."""
    try:
        entry = service.cache.get(service.key_for(checkpoint, image, name, params))
    except (ImageLoadError, OSError, ValueError):
        return "missing", None  # fails again in the loop, which reports it
    if entry is None:
        return "missing", None
    if entry.record.get("faithfulness") is not None and entry.record.get("faithfulness_options") == options:
        return "done", None
    return "map", entry.record.get("meta") or {}


def estimate(service: ExplanationService, checkpoint, images: list[Path], specs, options: dict) -> None:
    """Print how many scores are missing and about how long they take; computes (and caches) the first
    missing map of each method to time it (see :mod:`study_app.explain.estimate`)."""
    jobs = [(image, name, params, *_state(service, checkpoint, image, name, params, options))
            for image in images for name, params in specs]
    todo = [j for j in jobs if j[3] != "done"]
    model = CostModel()
    if todo:
        model.forward_seconds = timed(lambda: predict_topk(checkpoint, [open_rgb(todo[0][0])], k=1))
    maps = Counter(j[1] for j in todo if j[3] == "missing")
    for image, name, params, state, meta in first_of_each(todo, lambda j: j[1]):
        if state == "map" and isinstance((meta or {}).get("seconds"), int | float):
            model.map_seconds[name] = float(meta["seconds"])
            evaluations = (meta.get("convergence") or {}).get("n_evaluations")
            if evaluations:
                model.map_evaluations[name] = int(evaluations)
            continue
        maps[name] -= 1  # computed now, for the timing
        try:
            model.time_map(name, lambda i=image, n=name, p=params: service.get_or_compute(checkpoint, i, n, p))
        except (ImageLoadError, OSError, ValueError):
            model.map_seconds[name] = 0.0
    scores = Counter(j[1] for j in todo)
    announce_estimate("faithfulness scores", len(todo), len(jobs) - len(todo), model.seconds(maps, scores, options),
             model.basis(options))


def run(args: argparse.Namespace) -> int:
    try:
        specs = parse_method_specs(args.methods, args.param)
        images = list_images(args.images)[: args.limit]
        checkpoint = load_checkpoint(args.checkpoint, args.device)
    except (ValueError, CheckpointError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not images:
        print(f"error: no images found under {args.images}", file=sys.stderr)
        return 2
    options = {
        "steps": args.steps,
        "infidelity_samples": args.infidelity_samples,
        "sensitivity_samples": args.sensitivity_samples,
        "sanity": not args.no_sanity,
    }
    service = ExplanationService(args.cache)
    estimate(service, checkpoint, images, specs, {**DEFAULT_FAITHFULNESS_OPTIONS, **options})
    rows, failures = [], 0
    for image in progress_bar(images, desc="faithfulness", unit="image"):
        for name, params in specs:
            try:
                result = service.get_or_compute(
                    checkpoint, image, name, params, faithfulness=True, faithfulness_options=options
                )
            except (ImageLoadError, OSError, ValueError) as exc:
                failures += 1
                print(f"failed: {image} [{name}]: {exc}", file=sys.stderr)
                continue
            rows.append(
                {
                    "image": str(image),
                    "image_sha256": result.image_sha256,
                    "checkpoint_sha256": checkpoint.sha256,
                    "method": name,
                    "target": result.target,
                    "target_label": result.target_label,
                    "probability": result.probs[result.labels.index(result.target_label)]
                    if result.target_label in result.labels
                    else "",
                    **{m: float(result.faithfulness[m]) for m in METRIC_NAMES},
                    **_convergence_cells(result.meta),
                    "explain_seconds": round(float(result.meta.get("seconds", math.nan)), 4),
                    "map_sha256": result.map_sha256,
                }
            )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with open(out, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    print(summary_table(rows))
    print(f"wrote {len(rows)} rows to {out}" + (f"; {failures} failed" if failures else ""))
    return 1 if failures else 0
