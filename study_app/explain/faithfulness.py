"""How faithful is a map to the model? Scores per image × method, stored with the map in the cache.

* **Deletion / insertion AUC** (Petsiuk et al. 2018, RISE): pixels are removed (set to black) or
  inserted (into a blurred copy) in order of decreasing attribution, in ``steps`` equal fractions; the
  area under the target-class probability curve is lower-is-better for deletion, higher-is-better for
  insertion. Ties (flat regions of Grad-CAM or superpixel maps) are broken in a seeded random order so
  raster order does not bias the curve.
* **Infidelity** (Yeh et al. 2019, ``captum.metrics.infidelity``, normalised): how well
  ``map · noise`` predicts the change of the target score when that noise is subtracted; the noise is
  Gaussian per pixel and equal across channels, so a per-pixel (channel-summed) map is the right
  quantity. Lower is better.
* **Max-sensitivity** (Yeh et al. 2019, ``captum.metrics.sensitivity_max``): the largest relative change
  of the map under uniform input noise of radius ``sensitivity_radius``. The method's seed is fixed,
  so LIME/SHAP sampling noise is not mistaken for input sensitivity. Lower is better. It re-runs the
  method ``sensitivity_samples`` times, the costliest score: set 0 to skip.
* **Randomisation sanity** (:mod:`study_app.explain.sanity`): Spearman correlation with the map of a
  model whose top layers are re-initialised; near 0 passes.

For LIME and Kernel SHAP, max-sensitivity and the randomisation check fit both maps of each comparison on the
same coalitions (:mod:`study_app.explain.superpixel_scores`): a fifth of the model evaluations of re-running
the method, and a score of the method rather than of its sampling noise. :func:`sensitivity_score` and
:func:`~study_app.explain.sanity.randomization_check` (re-running the method) remain for the other methods.

Probabilities are the softmax of the model output (also right for zero-shot models, whose output is
log-probabilities).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from captum.metrics import infidelity, sensitivity_max
from torch import nn

from study_app.explain import superpixel_scores
from study_app.explain.base import IMAGENET_NORMALIZATION, ExplanationMethod, Normalization
from study_app.explain.gradient_methods import make_baseline
from study_app.explain.model_variants import fast_forward
from study_app.explain.sanity import randomization_check
from study_app.explain.segmentation import superpixels
from study_app.explain.surrogates import SAMPLED_METHODS

METRIC_NAMES = ("deletion_auc", "insertion_auc", "infidelity", "sensitivity_max", "randomization_spearman")


def _check_single(x: torch.Tensor, map_hw: np.ndarray | None = None) -> torch.Tensor:
    if x.dim() == 3:
        x = x.unsqueeze(0)
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"faithfulness metrics take one image (1×3×H×W), got {tuple(x.shape)}")
    if map_hw is not None and tuple(np.shape(map_hw)) != tuple(x.shape[-2:]):
        raise ValueError(f"map shape {np.shape(map_hw)} does not match the input {tuple(x.shape[-2:])}")
    return x.detach().float()


def pixel_order(map_hw: np.ndarray, seed: int = 0) -> np.ndarray:
    """Flat pixel indices from most to least positive attribution, ties in seeded random order."""
    flat = np.asarray(map_hw, dtype=np.float64).ravel()
    tie_break = np.random.default_rng(seed).random(flat.size)
    return np.lexsort((tie_break, -flat))


def _probabilities(forward, batch: torch.Tensor, target: int, batch_size: int) -> np.ndarray:
    out = []
    for start in range(0, batch.shape[0], batch_size):
        out.append(torch.softmax(forward(batch[start : start + batch_size]).float(), dim=1)[:, target])
    return torch.cat(out).cpu().numpy()


def deletion_insertion(
    model: nn.Module,
    x: torch.Tensor,
    map_hw: np.ndarray,
    target: int,
    *,
    steps: int = 20,
    normalization: Normalization | None = None,
    batch_size: int = 16,
    seed: int = 0,
) -> dict[str, Any]:
    """Deletion and insertion AUCs (and the curves) of one image's map; see module docstring."""
    x = _check_single(x, map_hw)
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    norm = normalization or IMAGENET_NORMALIZATION
    h, w = x.shape[-2:]
    order = torch.from_numpy(pixel_order(map_hw, seed)).to(x.device)
    counts = [round(k * h * w / steps) for k in range(steps + 1)]
    black = make_baseline(x, "black", norm)[0]
    blurred = make_baseline(x, "blurred", norm)[0]
    deleted, inserted = [], []
    for n in counts:
        mask = torch.zeros(h * w, dtype=torch.bool, device=x.device)
        mask[order[:n]] = True
        mask = mask.view(1, h, w)
        deleted.append(torch.where(mask, black, x[0]))
        inserted.append(torch.where(mask, x[0], blurred))
    forward = fast_forward(model)
    del_curve = _probabilities(forward, torch.stack(deleted), target, batch_size)
    ins_curve = _probabilities(forward, torch.stack(inserted), target, batch_size)
    fractions = np.asarray(counts, dtype=np.float64) / (h * w)
    return {
        "deletion_auc": float(np.trapezoid(del_curve, fractions)),
        "insertion_auc": float(np.trapezoid(ins_curve, fractions)),
        "fractions": fractions.tolist(),
        "deletion_curve": del_curve.tolist(),
        "insertion_curve": ins_curve.tolist(),
    }


@contextmanager
def _seeded(x: torch.Tensor, seed: int) -> Iterator[None]:
    """Captum's random perturbations drawn from ``seed`` (on ``x``'s device too), the global generators left
    as they were."""
    with torch.random.fork_rng(devices=[x.device] if x.device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def infidelity_score(
    model: nn.Module,
    x: torch.Tensor,
    map_hw: np.ndarray,
    target: int,
    *,
    n_perturb_samples: int = 16,
    noise_std: float = 0.1,
    seed: int = 0,
) -> float:
    """Captum's normalised infidelity of a per-pixel map (lower is better); see module docstring."""
    x = _check_single(x, map_hw)
    channels = x.shape[1]
    attr = torch.as_tensor(np.asarray(map_hw, dtype=np.float32), device=x.device)
    attr = (attr / channels).view(1, 1, *attr.shape).expand_as(x).contiguous()

    def perturb(inputs: torch.Tensor):
        noise = torch.randn(inputs.shape[0], 1, *inputs.shape[-2:], device=inputs.device) * noise_std
        noise = noise.expand_as(inputs)
        return noise, inputs - noise

    with _seeded(x, seed):
        score = infidelity(
            fast_forward(model),
            perturb,
            x,
            attr,
            target=target,
            n_perturb_samples=n_perturb_samples,
            max_examples_per_batch=n_perturb_samples,
            normalize=True,
        )
    return float(score.item())


def sensitivity_score(
    method: ExplanationMethod,
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    *,
    normalization: Normalization | None = None,
    segments: torch.Tensor | None = None,
    n_perturb_samples: int = 4,
    radius: float = 0.02,
    seed: int = 0,
) -> float:
    """Captum's max-sensitivity of ``method`` at ``x`` (lower is better); see module docstring."""
    x = _check_single(x)

    def explain(inputs) -> torch.Tensor:
        inputs = inputs[0] if isinstance(inputs, tuple) else inputs
        result = method.explain(
            model, inputs, [target] * inputs.shape[0], normalization=normalization, segments=segments
        )
        result = result if isinstance(result, list) else [result]
        return torch.stack([torch.from_numpy(e.map_hw) for e in result]).unsqueeze(1).to(inputs.device)

    with _seeded(x, seed):
        score = sensitivity_max(
            explain,
            x,
            perturb_radius=radius,
            n_perturb_samples=n_perturb_samples,
            max_examples_per_batch=n_perturb_samples,
        )
    return float(score.item())


def faithfulness_report(
    method: ExplanationMethod,
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    map_hw: np.ndarray,
    *,
    normalization: Normalization | None = None,
    steps: int = 20,
    infidelity_samples: int = 16,
    sensitivity_samples: int = 4,
    sanity: bool = True,
) -> dict[str, float]:
    """Every score of :data:`METRIC_NAMES` for one image × method (NaN for those switched off)."""
    x = _check_single(x, map_hw)
    norm = normalization or IMAGENET_NORMALIZATION
    curves = deletion_insertion(model, x, map_hw, target, steps=steps, normalization=normalization)
    superpixel = method.name in SAMPLED_METHODS
    segments = (
        superpixels(x[0], *norm, method.params["n_segments"], method.params["compactness"]) if superpixel else None
    )

    if superpixel:  # both scores on common coalitions, sharing the trained model's outputs
        shared = superpixel_scores.scores(method.name, model, x, segments, target, norm, method.params,
                                          sensitivity_samples=sensitivity_samples, sanity=sanity)

    def sensitivity() -> float:
        if superpixel:
            return shared["sensitivity_max"]
        return sensitivity_score(
            method, model, x, target, normalization=normalization, n_perturb_samples=sensitivity_samples
        )

    def sanity_check() -> float:
        if superpixel:
            return shared["randomization_spearman"]
        return randomization_check(method, model, x, target, normalization=normalization, original_map=map_hw)

    report = {
        "deletion_auc": curves["deletion_auc"],
        "insertion_auc": curves["insertion_auc"],
        "infidelity": infidelity_score(model, x, map_hw, target, n_perturb_samples=infidelity_samples)
        if infidelity_samples > 0
        else math.nan,
        "sensitivity_max": sensitivity() if sensitivity_samples > 0 else math.nan,
        "randomization_spearman": sanity_check() if sanity else math.nan,
    }
    return {k: float(v) for k, v in report.items()}
