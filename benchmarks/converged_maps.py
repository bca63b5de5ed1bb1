"""Converged LIME and Kernel SHAP maps and their scores: today's path against the new one, side by side.

Run::

    python benchmarks/converged_maps.py                       # ~30 min on a 2-core CPU
    python benchmarks/converged_maps.py --images 1 --study-images 2 --sizes 128 --reference 2000   # a smoke run

The model is the bundled cat/dog ResNet18 (``checkpoints/catdog_resnet18``, 128 px; at 224 px the same weights
on a 224 px input), the photos held-out test photos the defaults were not tuned on (tuning used cat_0201 and
dog_0201). *Today's path* is the code before this change, reproduced here: Captum's ``Lime``/``KernelShap``
with plain sampling, 200 samples, and scores that re-run the method on noisy copies and on the randomised
model. *The new path* is the engine's defaults (:mod:`study_app.explain.surrogates`: paired coalitions,
Kernel SHAP's exact small coalitions, stopping once the split-half ρ reaches 0.9; scores on common
coalitions, :mod:`study_app.explain.superpixel_scores`).

1. **Convergence**: Spearman ρ over pixels against a reference of the same method on the same superpixels
   with ``--reference`` (8,000) samples of its default sampler (Kernel SHAP paired, LIME plain) under another
   seed, as a function of model
   evaluations, for plain sampling (Captum, today's path) and for the new sampler (without stopping); then the
   defaults (with stopping), and how many evaluations plain sampling needs for the ρ the defaults reach
   (interpolated on the curve; beyond its end extrapolated with ``1 - ρ ∝ 1/n``).
2. **Scores** at the defaults' map settings: today's max-sensitivity and randomisation check against the
   new ones — wall time, model evaluations, values — and both against a high-sample reference (common
   coalitions with 1,024 rows). Today's values at today's settings (200 samples) are listed too.
3. **The 8-image study** (``--study-images``): maps and every score of LIME, Kernel SHAP and Grad-CAM per
   image, today's path against the new one, wall time.

Model evaluations are images run through the network; the randomisation check's shared-trunk evaluation
counts once per coalition (its two ``layer4`` + ``fc`` heads, about a quarter of ResNet18's arithmetic each,
are not counted). Wall times are single runs on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from captum.attr import KernelShap, Lime

from study_app.explain import model_variants, superpixel_scores
from study_app.explain.base import ExplanationMethod
from study_app.explain.faithfulness import (
    deletion_insertion,
    faithfulness_report,
    infidelity_score,
    sensitivity_score,
)
from study_app.explain.methods import get_method
from study_app.explain.model_variants import fast_forward
from study_app.explain.sanity import randomization_check, rank_correlation
from study_app.explain.segmentation import superpixels
from study_app.explain.surrogates import estimate
from trainers.checkpoint import load_checkpoint
from trainers.images import open_rgb
from trainers.predict import eval_transform

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "checkpoints" / "catdog_resnet18"
PHOTOS = ROOT.parent / "shared" / "data" / "catdog" / "test"
TUNED_ON = {"cat_0201.jpg", "dog_0201.jpg"}
KINDS = ("lime", "kernel_shap")
GRID = (200, 500, 1000, 2000, 4000)


class Counter:
    """Counts images through the engine's fast forward passes (``model_variants._FastModel``)."""

    images = 0

    @classmethod
    def install(cls) -> None:
        original = model_variants._FastModel.__call__

        def counted(self, x):
            cls.images += 0 if getattr(self, "is_head", False) else x.shape[0]
            return original(self, x)

        model_variants._FastModel.__call__ = counted
        superpixel_head = superpixel_scores._head

        def marked_head(model):
            head = superpixel_head(model)
            head._benchmark_head = True
            return head

        superpixel_scores._head = marked_head
        original_init = model_variants._FastModel.__init__

        def init(self, model):
            original_init(self, model)
            self.is_head = getattr(model, "_benchmark_head", False)

        model_variants._FastModel.__init__ = init


def measured(fn, *args, **kwargs):
    """``(result, seconds, model evaluations)`` of ``fn(*args, **kwargs)``."""
    before, start = Counter.images, time.perf_counter()
    out = fn(*args, **kwargs)
    return out, time.perf_counter() - start, Counter.images - before


class TodaysMethod(ExplanationMethod):
    """LIME / Kernel SHAP as before this change: Captum's plain sampling, 200 samples, 8 per forward pass."""

    defaults = {"n_segments": 50, "compactness": 10.0, "n_samples": 200, "perturbations_per_eval": 8}

    def __init__(self, kind: str, **params):
        self.name, self.title = kind, kind
        super().__init__(**params)

    def _attribute(self, model, x, targets, normalization, segments):
        explainer = (Lime if self.name == "lime" else KernelShap)(fast_forward(model))
        maps = []
        for i in range(x.shape[0]):
            self.reseed()
            seg = segments[i] if segments is not None else superpixels(
                x[i], *normalization, self.params["n_segments"], self.params["compactness"])
            attr = explainer.attribute(x[i : i + 1], target=targets[i], feature_mask=seg.view(1, 1, *seg.shape),
                                       n_samples=self.params["n_samples"],
                                       perturbations_per_eval=self.params["perturbations_per_eval"])
            maps.append(attr[0, 0].detach().float().numpy())
        return maps, None


def photos(n: int, skip: int = 0) -> list[Path]:
    """``n`` held-out photos alternating cat and dog, from the 10th of each class on (never the tuning ones)."""
    cats = sorted(p for p in (PHOTOS / "cat").glob("*.jpg") if p.name not in TUNED_ON)[9:]
    dogs = sorted(p for p in (PHOTOS / "dog").glob("*.jpg") if p.name not in TUNED_ON)[9:]
    mixed = [p for pair in zip(cats, dogs, strict=False) for p in pair]
    return mixed[skip : skip + n]


def model_input(checkpoint, path: Path, size: int) -> torch.Tensor:
    return eval_transform(size, checkpoint.mean, checkpoint.std)(open_rgb(path)).unsqueeze(0)


def needed(points: list[tuple[int, float]], goal: float) -> float:
    """Evaluations at which a curve of ``(n, median ρ)`` reaches ``goal`` (log-interpolated; extrapolated
    past its end with ``1 - ρ ∝ 1/n``)."""
    for (n0, r0), (n1, r1) in zip(points, points[1:], strict=False):
        if r0 < goal <= r1:
            t = (goal - r0) / (r1 - r0)
            return float(np.exp(np.log(n0) + t * (np.log(n1) - np.log(n0))))
    if points[0][1] >= goal:
        return float(points[0][0])
    n, r = points[-1]
    return n * (1 - r) / (1 - goal) if r < 1 else float(n)


def reference_map(kind, forward, x, seg, target, reference: int):
    """``reference`` samples of the method's default sampler (Kernel SHAP paired, LIME plain), seed 12345."""
    paired = get_method(kind).params["sampling"] == "paired"
    return estimate(kind, forward, x, seg, target, n_samples=reference, min_samples=reference, round_size=reference,
                    converge_at=0, seed=12345, batch_size=16, paired=paired).values[seg.numpy()]


def convergence(checkpoint, images: list[Path], size: int, reference: int) -> dict:
    """Section 1; returns the defaults' maps per (image, kind) for section 2."""
    model, norm = checkpoint.model, (checkpoint.mean, checkpoint.std)
    forward = fast_forward(model)
    curves = {k: {"plain": {n: [] for n in GRID}, "paired": {n: [] for n in GRID}, "defaults": []} for k in KINDS}
    kept = {}
    for path in images:
        x = model_input(checkpoint, path, size)
        target = int(forward(x).argmax())
        seg = superpixels(x[0], *norm, 50, 10.0)
        s = seg.numpy()
        for kind in KINDS:
            ref = reference_map(kind, forward, x, seg, target, reference)
            for n in GRID:
                today = TodaysMethod(kind, n_samples=n).explain(model, x, target, normalization=norm, segments=seg)
                curves[kind]["plain"][n].append(rank_correlation(today.map_hw, ref))
            trace: list = []
            estimate(kind, forward, x, seg, target, n_samples=max(GRID), min_samples=100, round_size=100,
                     converge_at=0, seed=0, batch_size=16, trace=trace)
            for n in GRID:
                _, _, values = min(trace, key=lambda t, n=n: abs(t[0] - n))
                curves[kind]["paired"][n].append(rank_correlation(values[s], ref))
            method = get_method(kind)
            explanation, seconds, evals = measured(method.explain, model, x, target, normalization=norm)
            rho = rank_correlation(explanation.map_hw, ref)
            curves[kind]["defaults"].append((evals, rho, explanation.meta["convergence"]["split_half_spearman"], seconds))
            kept[(path.name, kind)] = (x, target, explanation)
            print(f"  {path.name} {kind}: defaults {evals} evaluations, ρ {rho:.3f} "
                  f"(split-half {explanation.meta['convergence']['split_half_spearman']}), {seconds:.1f} s", flush=True)
    print(f"\n{size} px, {len(images)} held-out photos, reference {reference} samples (seed 12345); "
          "median (min) Spearman ρ over pixels against it")
    for kind in KINDS:
        c = curves[kind]
        print(f"\n{kind:<12}{'evaluations':>12}{'plain (today)':>20}{'paired':>20}")
        for n in GRID:
            plain, paired = c["plain"][n], c["paired"][n]
            print(f"{'':<12}{n:>12}{statistics.median(plain):>13.3f} ({min(plain):.2f}){statistics.median(paired):>13.3f}"
                  f" ({min(paired):.2f})")
        evals = [d[0] for d in c["defaults"]]
        rhos = [d[1] for d in c["defaults"]]
        goal = statistics.median(rhos)
        plain_needs = needed([(n, statistics.median(c["plain"][n])) for n in GRID], goal)
        print(f"{'':<12}defaults: {statistics.mean(evals):.0f} evaluations on average (max {max(evals)}), ρ median "
              f"{goal:.3f} (min {min(rhos):.3f}), {statistics.mean(d[3] for d in c['defaults']):.1f} s a map")
        print(f"{'':<12}plain sampling needs about {plain_needs:.0f} evaluations for median ρ {goal:.3f}: "
              f"{plain_needs / statistics.mean(evals):.1f}× the defaults' evaluations")
    return kept


def todays_scores(method, model, x, target, map_hw, norm) -> dict:
    return {
        "sensitivity_max": sensitivity_score(method, model, x, target, normalization=norm, n_perturb_samples=4),
        "randomization_spearman": randomization_check(method, model, x, target, normalization=norm, original_map=map_hw),
        "deletion_auc": deletion_insertion(model, x, map_hw, target, normalization=norm)["deletion_auc"],
        "infidelity": infidelity_score(model, x, map_hw, target),
    }


def scores(checkpoint, kept: dict, n_images: int) -> None:
    """Section 2."""
    model, norm = checkpoint.model, (checkpoint.mean, checkpoint.std)
    names = list(dict.fromkeys(name for name, _ in kept))[:n_images]
    print("\nScores at the defaults' map settings: today's implementation (re-running the method) against the new "
          "one (common coalitions); reference: common coalitions with 1,024 rows")
    print(f"{'image':<14}{'method':<13}{'today s':>9}{'new s':>8}{'ratio':>7}{'today evals':>12}{'new evals':>10}"
          f"{'sens today':>11}{'new':>7}{'ref':>7}{'today@200':>10}{'rand today':>11}{'new':>7}{'ref':>7}")
    ratios = []
    for name in names:
        for kind in KINDS:
            x, target, explanation = kept[(name, kind)]
            method = get_method(kind)
            old, t_old, e_old = measured(todays_scores, method, model, x, target, explanation.map_hw, norm)
            new, t_new, e_new = measured(faithfulness_report, method, model, x, target, explanation.map_hw,
                                         normalization=norm)
            seg = superpixels(x[0], *norm, 50, 10.0)
            ref_sens = superpixel_scores.sensitivity(kind, model, x, seg, target, norm, method.params, rows=1024)
            ref_rand = superpixel_scores.randomization(kind, model, x, seg, target, rows=1024)
            today = TodaysMethod(kind)
            today_map = today.explain(model, x, target, normalization=norm).map_hw
            at_200 = todays_scores(today, model, x, target, today_map, norm)
            ratios.append(t_old / t_new)
            print(f"{name:<14}{kind:<13}{t_old:>9.1f}{t_new:>8.1f}{t_old / t_new:>7.1f}{e_old:>12}{e_new:>10}"
                  f"{old['sensitivity_max']:>11.3f}{new['sensitivity_max']:>7.3f}{ref_sens:>7.3f}"
                  f"{at_200['sensitivity_max']:>10.3f}{old['randomization_spearman']:>11.3f}"
                  f"{new['randomization_spearman']:>7.3f}{ref_rand:>7.3f}", flush=True)
            assert abs(old["deletion_auc"] - new["deletion_auc"]) < 1e-9  # unchanged scores stay equal
    print(f"scores: new {statistics.median(ratios):.1f}× faster (median), deletion/insertion and infidelity identical")


def map_and_scores(method, model, x, target, norm, today: bool) -> dict:
    map_hw = method.explain(model, x, target, normalization=norm).map_hw
    if today:
        return todays_scores(method, model, x, target, map_hw, norm)
    return faithfulness_report(method, model, x, target, map_hw, normalization=norm)


def study(checkpoint, images: list[Path], size: int) -> None:
    """Section 3: maps and all scores for every image × (LIME, Kernel SHAP, Grad-CAM), both paths."""
    model, norm = checkpoint.model, (checkpoint.mean, checkpoint.std)
    totals = {"today": [0.0, 0], "new": [0.0, 0]}
    for path in images:
        x = model_input(checkpoint, path, size)
        target = int(fast_forward(model)(x).argmax())
        for name in (*KINDS, "gradcam"):
            for side in totals:
                method = TodaysMethod(name) if side == "today" and name in KINDS else get_method(name)
                _, seconds, evals = measured(map_and_scores, method, model, x, target, norm, side == "today")
                totals[side][0] += seconds
                totals[side][1] += evals
    print(f"\n{len(images)}-image study, maps and every score of LIME, Kernel SHAP and Grad-CAM at {size} px:")
    for side, (seconds, evals) in totals.items():
        print(f"  {side:<6} {seconds:>7.1f} s  {evals:>8} model evaluations")
    print(f"  new / today: {totals['new'][0] / totals['today'][0]:.2f}× the time")


def speed_at(checkpoint, path: Path, size: int, reference: int) -> None:
    """224 px (or any ``size``): time and evaluations per map and per score, defaults' fidelity."""
    model, norm = checkpoint.model, (checkpoint.mean, checkpoint.std)
    forward = fast_forward(model)
    x = model_input(checkpoint, path, size)
    target = int(forward(x).argmax())
    seg = superpixels(x[0], *norm, 50, 10.0)
    print(f"\n{size} px, {path.name}: per map and per score")
    for kind in KINDS:
        ref = reference_map(kind, forward, x, seg, target, reference)
        today = TodaysMethod(kind)
        t_map, t_s, t_e = measured(today.explain, model, x, target, normalization=norm)
        method = get_method(kind)
        n_map, n_s, n_e = measured(method.explain, model, x, target, normalization=norm)
        _, ts_s, ts_e = measured(todays_scores, today, model, x, target, t_map.map_hw, norm)
        _, ns_s, ns_e = measured(faithfulness_report, method, model, x, target, n_map.map_hw, normalization=norm)
        print(f"  {kind:<12} map today {t_s:5.1f} s / {t_e} evals, ρ {rank_correlation(t_map.map_hw, ref):.3f};"
              f" new {n_s:5.1f} s / {n_e} evals, ρ {rank_correlation(n_map.map_hw, ref):.3f}; scores today "
              f"(200-sample map) {ts_s:5.1f} s / {ts_e} evals, new {ns_s:5.1f} s / {ns_e} evals", flush=True)


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=3, help="held-out photos for the convergence curves")
    ap.add_argument("--score-images", type=int, default=2, help="of those, how many for the score comparison")
    ap.add_argument("--study-images", type=int, default=8, help="photos of the study comparison (0 skips it)")
    ap.add_argument("--reference", type=int, default=8000, help="samples of the reference maps")
    ap.add_argument("--sizes", type=int, nargs="+", default=[128, 224])
    args = ap.parse_args(argv)
    Counter.install()
    checkpoint = load_checkpoint(CHECKPOINT, "cpu")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {CHECKPOINT.name}")
    kept = convergence(checkpoint, photos(args.images), 128, args.reference)
    scores(checkpoint, kept, args.score_images)
    if args.study_images:
        study(checkpoint, photos(args.study_images, skip=args.images), 128)
    for size in args.sizes:
        if size != 128:
            speed_at(checkpoint, photos(1)[0], size, args.reference)


if __name__ == "__main__":
    main()
