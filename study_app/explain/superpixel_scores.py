"""Max-sensitivity and the randomisation check of LIME and Kernel SHAP maps, from a few hundred coalitions.

Both scores compare the map with maps of the same method on something slightly different: the input plus
noise (max-sensitivity, Yeh et al. 2019) or a model with re-initialised top layers (Adebayo et al. 2018).
Re-running the method for each costs as much as the map itself (five maps per score). Worse, at a few
hundred samples the comparison mostly measured *sampling noise*: SLIC numbers the superpixels of a noisy copy
differently, so the "same" random coalitions hit other regions, and two independent samples of an unconverged
map differ by about their own size (sensitivity 0.4–2.9 against Grad-CAM's 0.001–0.03 on the demo).

Here both maps of a comparison are fitted on the **same coalitions** (common random numbers: the sampling
noise cancels in the difference) drawn by the method's own sampler:

* **max-sensitivity**: each noisy copy ``x + δ`` (uniform in ``[-radius, radius]``, Captum's default) is
  segmented again and its superpixels are matched to the image's by largest overlap (Hungarian assignment;
  a new region takes the label of the region it overlaps most), so a coalition keeps the same regions; the
  score is ``max_k ‖Φ(x+δ_k) - Φ(x)‖ / ‖Φ(x)‖`` over pixel maps, as ``captum.metrics.sensitivity_max``
  computes it, with Φ fitted on ``rows`` coalitions.
* **randomisation**: Spearman over pixels between the map of the trained model and that of
  :func:`~study_app.explain.sanity.randomized_copy`, both fitted on the same ``rows`` coalitions. For a
  torchvision ResNet the layers both models share (``conv1`` … ``layer3``) run once per coalition and only
  ``layer4`` and ``fc`` twice (:class:`SharedTrunk`).

The benchmark (``benchmarks/converged_maps.py``) compares both with high-sample references.
"""

from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from study_app.explain.coalitions import KernelShapSampler, LimeSampler
from study_app.explain.model_variants import fast_forward
from study_app.explain.sanity import DEFAULT_RANDOMIZED_LAYERS, randomized_copy, rank_correlation
from study_app.explain.segmentation import superpixels
from study_app.explain.surrogates import _Fit, evaluate

SCORE_ROWS = 256  # coalitions both maps of a comparison are fitted on


def coalitions(kind: str, m: int, rows: int, seed: int):
    """``rows`` coalitions of ``kind``'s paired sampler (Kernel SHAP: empty, full and enumerated ones first)."""
    rng = np.random.default_rng(seed)
    sampler = KernelShapSampler(m, rows, rng) if kind == "kernel_shap" else LimeSampler(m, rng)
    sample = sampler.start()
    if len(sample) < rows:
        sample.extend(sampler.draw(rows - len(sample)))
    return sample


def matched_segments(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """``other``'s regions relabelled with the ``reference`` label each overlaps most (one-to-one where
    possible by Hungarian assignment, left-over regions by largest overlap)."""
    m_ref, m_other = int(reference.max()) + 1, int(other.max()) + 1
    overlap = np.zeros((m_ref, m_other))
    np.add.at(overlap, (reference.ravel(), other.ravel()), 1)
    rows, cols = linear_sum_assignment(-overlap)
    label = overlap.argmax(axis=0)
    label[cols] = rows
    return label[other]


class SharedTrunk:
    """Two ResNets that differ only above ``layer3`` evaluated together: the shared layers once, the top
    layers of each model on their output. Outputs the two models' logits side by side (N×2C)."""

    def __init__(self, trained: nn.Module, randomized: nn.Module):
        self.trunk = fast_forward(nn.Sequential(*[getattr(trained, n) for n in
                                                  ("conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3")]))
        self.heads = [fast_forward(_head(m)) for m in (trained, randomized)]

    @staticmethod
    def supports(model: nn.Module) -> bool:
        return all(hasattr(model, n) for n in ("conv1", "layer3", "layer4", "fc")) and set(
            DEFAULT_RANDOMIZED_LAYERS) == {"layer4", "fc"}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        features = self.trunk(x)
        return torch.cat([head(features) for head in self.heads], dim=1)


def _head(model: nn.Module) -> nn.Module:
    return nn.Sequential(model.layer4, model.avgpool, nn.Flatten(1), model.fc).eval()


def _maps(fit: _Fit, sample, y: np.ndarray, segments: np.ndarray) -> np.ndarray:
    return fit(sample, y)[segments]


def scores(kind, model, x, segments, target, normalization, params, *, sensitivity_samples=4, sanity=True,
           radius=0.02, rows=SCORE_ROWS, seed=0, batch_size=16) -> dict[str, float]:
    """``sensitivity_max`` (NaN when ``sensitivity_samples`` is 0) and ``randomization_spearman`` (NaN without
    ``sanity``) of the method's map at ``x``, all fitted on the same ``rows`` coalitions (module docstring).
    The trained model's outputs on them serve both scores; with ``sanity`` they come from the shared trunk."""
    seg = segments.long()
    seg_np = seg.cpu().numpy()
    m = int(seg.max()) + 1
    sample = coalitions(kind, m, rows, int(params["seed"]))
    fit = _Fit(kind, _energies(x, seg_np, m))
    forward = fast_forward(model)
    out = {"sensitivity_max": float("nan"), "randomization_spearman": float("nan")}
    if sanity:
        random_model = randomized_copy(model)
        if SharedTrunk.supports(model):
            both = evaluate(SharedTrunk(model, random_model), x, seg, sample.z,
                            [target, _n_classes(model) + target], batch_size)
            y, y_random = both[:, 0], both[:, 1]
        else:
            y = evaluate(forward, x, seg, sample.z, [target], batch_size)[:, 0]
            y_random = evaluate(fast_forward(random_model), x, seg, sample.z, [target], batch_size)[:, 0]
        out["randomization_spearman"] = rank_correlation(_maps(fit, sample, y, seg_np),
                                                         _maps(fit, sample, y_random, seg_np))
    else:
        y = evaluate(forward, x, seg, sample.z, [target], batch_size)[:, 0]
    if sensitivity_samples > 0:
        base = _maps(fit, sample, y, seg_np)
        norm = float(np.linalg.norm(base))
        generator = torch.Generator().manual_seed(seed)
        worst = 0.0
        for _ in range(sensitivity_samples):
            noisy = x + (torch.rand(x.shape, generator=generator) * 2 - 1).to(x.device) * radius
            own = superpixels(noisy[0], *normalization, params["n_segments"], params["compactness"]).cpu().numpy()
            matched = matched_segments(seg_np, own)
            y_noisy = evaluate(forward, noisy, torch.from_numpy(matched).to(x.device), sample.z, [target], batch_size)
            moved = _maps(_Fit(kind, _energies(noisy, matched, m)), sample, y_noisy[:, 0], matched)
            worst = max(worst, float(np.linalg.norm(moved - base)) / norm if norm > 0 else float("nan"))
        out["sensitivity_max"] = worst
    return out


def randomization(kind, model, x, segments, target, *, rows=SCORE_ROWS, seed=0, batch_size=16) -> float:
    """Spearman between the trained and the weight-randomised model's maps on the same coalitions."""
    return scores(kind, model, x, segments, target, None, {"seed": seed}, sensitivity_samples=0, rows=rows,
                  batch_size=batch_size)["randomization_spearman"]


def sensitivity(kind, model, x, segments, target, normalization, params, *, n_perturb_samples=4, radius=0.02,
                rows=SCORE_ROWS, seed=0, batch_size=16) -> float:
    """Max-sensitivity of the method's map at ``x`` under uniform noise, on common coalitions (module docstring)."""
    return scores(kind, model, x, segments, target, normalization, params, sensitivity_samples=n_perturb_samples,
                  sanity=False, radius=radius, rows=rows, seed=seed, batch_size=batch_size)["sensitivity_max"]


def _energies(x: torch.Tensor, seg: np.ndarray, m: int) -> np.ndarray:
    return np.bincount(seg.ravel(), weights=(x[0].double() ** 2).sum(0).cpu().numpy().ravel(), minlength=m)


def _n_classes(model: nn.Module) -> int:
    return int(model.fc.out_features)
