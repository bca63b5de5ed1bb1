"""LIME and Kernel SHAP fitted on paired coalitions, stopped when converged, with their convergence measured.

The model is evaluated on perturbed images (kept superpixels as they are, removed ones at the baseline 0: the
mean colour after normalisation, as in Captum) in batches through the folded, channels-last, inference-mode
forward (:func:`~study_app.explain.model_variants.fast_forward`); the surrogate is then fitted exactly as
Captum fits it, so the estimand is Captum's:

* **LIME**: a Lasso (``alpha`` 0.01, Captum's ``SkLearnLasso``) of the target logit on the 0/1 coalitions,
  each weighted by Captum's default kernel ``exp(-d² / 2)`` on the cosine distance ``d`` between the image
  and the perturbed image (computed exactly from each superpixel's squared norm).
* **Kernel SHAP**: the Shapley-kernel weighted least squares with the efficiency constraint solved exactly
  (the values sum to f(image) - f(baseline)); Captum approximates the constraint with a weight of 10⁶ on the
  empty and full coalitions. In the limit both give the Shapley values of the superpixels.

**Convergence** (:attr:`SurrogateResult.split_half`): the Spearman rank correlation, over the pixels of the
map, between the maps fitted on two disjoint halves of the sampled pairs (rows that carry no sampling noise,
Kernel SHAP's enumerated coalitions, go to both), averaged over ``SPLITS`` random splits of the pairs (one
split is itself noisy, and stopping on a noisy figure stops early by luck). Each half has half the samples, so
the full map agrees better with a high-sample reference than the halves agree with each other. Sampling goes in rounds of
``round_size`` evaluations; from ``min_samples`` on it stops as soon as the split-half agreement reaches
``converge_at`` (0 = always spend ``n_samples``), so easy images cost less than hard ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from captum._utils.models.linear_model import SkLearnLasso
from torch.utils.data import DataLoader, TensorDataset

from study_app.explain.coalitions import SHARED, CoalitionSample, KernelShapSampler, LimeSampler
from study_app.explain.sanity import rank_correlation

LIME_ALPHA = 0.01
SAMPLED_METHODS = ("lime", "kernel_shap")  # the methods this module fits
SPLITS = 4  # random splits of the pairs the split-half figure averages  # Captum's default interpretable model: SkLearnLasso(alpha=0.01)
CONVERGED_SPLIT_HALF = 0.9  # split-half Spearman below this: the map counts as not converged


@dataclass
class SurrogateResult:
    """Per-superpixel values and how they were reached.

    Attributes:
        values: one value per superpixel (the map is ``values[segments]``).
        n_evaluations: model evaluations spent (perturbed images).
        split_half: convergence figure (module docstring); NaN when no halves could be formed.
        stopped: ``"converged"`` (split-half reached ``converge_at``), ``"budget"`` (``n_samples`` spent) or
            ``"exhaustive"`` (every coalition enumerated: exact, nothing sampled).
        history: ``(evaluations, split_half)`` after each round, for plots and the benchmark.
    """

    values: np.ndarray
    n_evaluations: int
    split_half: float
    stopped: str
    enumerated_sizes: list[int] = field(default_factory=list)
    history: list[tuple[int, float]] = field(default_factory=list)

    def record(self) -> dict:
        """What the map's metadata keeps (JSON-safe)."""
        return {
            "n_evaluations": self.n_evaluations,
            "split_half_spearman": None if np.isnan(self.split_half) else round(float(self.split_half), 4),
            "stopped": self.stopped,
            "enumerated_sizes": list(self.enumerated_sizes),
        }


def evaluate(
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    segments: torch.Tensor,
    rows: np.ndarray,
    columns: list[int],
    batch_size: int,
) -> np.ndarray:
    """Model outputs ``columns`` for each coalition of ``rows`` (n×M 0/1) applied to ``x`` (1×C×H×W): n×len(columns)."""
    if len(rows) == 0:
        return np.zeros((0, len(columns)))
    keep = torch.from_numpy(np.ascontiguousarray(rows)).to(device=x.device, dtype=x.dtype)
    out = []
    for start in range(0, len(rows), batch_size):
        masks = keep[start : start + batch_size][:, segments]  # b×H×W
        out.append(forward(x * masks.unsqueeze(1))[:, columns].float())
    return torch.cat(out).cpu().double().numpy()


def lime_weights(z: np.ndarray, energies: np.ndarray) -> np.ndarray:
    """Captum's default LIME kernel, ``exp(-d²/2)`` with ``d`` the cosine distance between the flattened image
    and the perturbed one (baseline 0): ``cos = sqrt(kept energy / total energy)``."""
    total = float(energies.sum())
    kept = z.astype(np.float64) @ energies
    cos = np.sqrt(np.clip(kept / total, 0.0, 1.0)) if total > 0 else np.zeros(len(z))
    return np.exp(-((1.0 - cos) ** 2) / 2.0)


def fit_lime(z: np.ndarray, y: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Captum's LIME fit: ``SkLearnLasso(alpha=0.01)`` on the coalitions with the kernel weights."""
    data = TensorDataset(
        torch.from_numpy(z.astype(np.float32)),
        torch.from_numpy(y.astype(np.float32)),
        torch.from_numpy(weights.astype(np.float32)),
    )
    model = SkLearnLasso(alpha=LIME_ALPHA)
    model.fit(DataLoader(data, batch_size=len(z)))
    return model.representation().detach().double().numpy().reshape(-1)


def fit_kernel_shap(sample: CoalitionSample, y: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Constrained Shapley-kernel least squares on the rows ``rows`` of ``sample`` (see module docstring)."""
    z, yy, weight = sample.z[rows].astype(np.float64), y[rows], sample.exact_weight[rows].copy()
    m = z.shape[1]
    sizes = z.sum(axis=1)
    y0, y1 = float(yy[sizes == 0][0]), float(yy[sizes == m][0])
    if m == 1:
        return np.array([y1 - y0])
    regress = np.isfinite(weight) | np.isnan(weight)
    regress &= (sizes > 0) & (sizes < m)
    sampled = np.isnan(weight) & regress
    if sampled.any():
        weight[sampled] = sample.sampled_mass / sampled.sum()
    zr, target, w = z[regress], yy[regress] - y0, weight[regress]
    target = target - zr[:, -1] * (y1 - y0)
    design = zr[:, :-1] - zr[:, -1:]
    root = np.sqrt(w)[:, None]
    coef, *_ = np.linalg.lstsq(design * root, target * root[:, 0], rcond=None)
    return np.append(coef, (y1 - y0) - coef.sum())


class _Fit:
    """Fits one method on all rows or on one half of the pairs."""

    def __init__(self, kind: str, energies: np.ndarray):
        self.kind, self.energies = kind, energies

    def __call__(self, sample: CoalitionSample, y: np.ndarray, keep: np.ndarray | None = None) -> np.ndarray:
        rows = np.arange(len(sample)) if keep is None else np.flatnonzero(keep)
        if self.kind == "kernel_shap":
            return fit_kernel_shap(sample, y, rows)
        z = sample.z[rows]
        return fit_lime(z, y[rows], lime_weights(z, self.energies))


def split_half(fit: _Fit, sample: CoalitionSample, y: np.ndarray, segments: np.ndarray) -> float:
    """Spearman ρ over pixels between the maps of two halves of the sampled pairs, averaged over ``SPLITS``
    seeded random splits (NaN with fewer than two pairs)."""
    groups = sample.group[sample.group != SHARED]
    if len(np.unique(groups)) < 2:
        return float("nan")
    shared = sample.group == SHARED
    values = []
    for k in range(SPLITS):
        side = np.random.default_rng(k).permutation(int(groups.max()) + 1) % 2
        first = np.where(shared, True, side[np.maximum(sample.group, 0)] == 0)
        second = np.where(shared, True, side[np.maximum(sample.group, 0)] == 1)
        values.append(rank_correlation(fit(sample, y, first)[segments], fit(sample, y, second)[segments]))
    return float(np.nanmean(values)) if not np.all(np.isnan(values)) else float("nan")


def estimate(
    kind: str,
    forward: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    segments: torch.Tensor,
    target: int,
    *,
    n_samples: int,
    min_samples: int,
    round_size: int,
    converge_at: float,
    seed: int,
    batch_size: int,
    paired: bool = True,
    trace: list | None = None,
) -> SurrogateResult:
    """LIME (``kind="lime"``) or Kernel SHAP values of ``target`` for ``x`` (1×C×H×W) over ``segments`` (H×W),
    from paired coalitions (:mod:`study_app.explain.coalitions`) or, with ``paired=False``, plain ones.
    ``trace`` (a list) receives ``(evaluations, split-half, values)`` after every round, for convergence curves."""
    if kind not in SAMPLED_METHODS:
        raise ValueError(f"unknown surrogate {kind!r}")
    seg = segments.long()
    m = int(seg.max()) + 1
    seg_np = seg.cpu().numpy()
    energies = np.bincount(seg_np.ravel(), weights=(x[0].double() ** 2).sum(0).cpu().numpy().ravel(), minlength=m)
    rng = np.random.default_rng(seed)
    if kind == "kernel_shap":
        sampler: KernelShapSampler | LimeSampler = KernelShapSampler(m, n_samples, rng, paired)
        exhaustive = sampler.exhaustive
    else:
        sampler, exhaustive = LimeSampler(m, rng, paired), False
    fit = _Fit(kind, energies)

    def run(rows: np.ndarray) -> np.ndarray:
        return evaluate(forward, x, seg, rows, [target], batch_size)[:, 0]

    sample = sampler.start()
    y = run(sample.z)
    history: list[tuple[int, float]] = []
    stopped, agreement = ("exhaustive" if exhaustive else "budget"), float("nan")
    while not exhaustive:
        left = n_samples - len(sample)
        if left < 2:
            break
        step = min(left, max(round_size, min_samples - len(sample)))
        new = sampler.draw(step)
        y = np.concatenate([y, run(new.z)])
        sample.extend(new)
        if len(sample) >= min_samples or len(sample) >= n_samples - 1:
            agreement = split_half(fit, sample, y, seg_np)
            history.append((len(sample), agreement))
            if trace is not None:
                trace.append((len(sample), agreement, fit(sample, y)))
            if converge_at > 0 and agreement >= converge_at:
                stopped = "converged"
                break
    return SurrogateResult(
        values=fit(sample, y),
        n_evaluations=len(sample),
        split_half=agreement,
        stopped=stopped,
        enumerated_sizes=list(getattr(sample, "enumerated_sizes", [])),
        history=history,
    )
