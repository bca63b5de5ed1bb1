"""Which superpixels to keep in each perturbed image: the coalition samplers of LIME and Kernel SHAP.

Plain sampling (Captum's ``Lime`` and ``KernelShap``: independent draws) converges slowly; at 200 samples half
of a Kernel SHAP map's rank order is sampling noise. The samplers here estimate the *same* quantity (the same
weighted regression in the limit of many samples) with less variance per model evaluation:

* **Paired (antithetic) sampling** (Covert & Lee 2021, "Improving KernelSHAP"): every drawn coalition ``z``
  is evaluated together with its complement ``1 - z``. The complement has the same distribution as ``z``
  (Bernoulli(½) per superpixel for LIME; the Shapley kernel is symmetric in the coalition size for Kernel
  SHAP), so the estimand is unchanged, while the pair cancels much of the noise of a linear fit.
* **Exact small coalitions** for Kernel SHAP (Lundberg & Lee 2017, as in the ``shap`` library's
  ``KernelExplainer``): coalition sizes whose whole kernel mass the budget can afford are enumerated, smallest
  and largest first (size 1 and M-1 carry about a quarter of the kernel's mass at M = 50), each coalition with
  its exact kernel weight; only the remaining sizes are sampled.

A :class:`CoalitionSample` keeps which pair each sampled row belongs to, so a map can be refitted on two
independent halves of the pairs to measure its convergence (:mod:`study_app.explain.surrogates`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from itertools import combinations
from math import comb

import numpy as np

# A row's ``group``: the index of its pair (of its draw, with plain sampling), or SHARED for rows every half
# of a split keeps (Kernel SHAP's empty and full coalitions and its enumerated sizes: no sampling noise).
SHARED = -1


@dataclass
class CoalitionSample:
    """Coalitions (rows of ``z``: 1 keeps a superpixel) and their regression weights before the data term.

    Attributes:
        z: n×M array of 0/1.
        group: per row its pair's index, or :data:`SHARED`.
        exact_weight: per row the kernel weight of an enumerated row, NaN for a sampled row (whose weight is
            the sampled sizes' kernel mass shared equally among the sampled rows used in a fit).
        sampled_mass: the Shapley-kernel mass of the sizes that are sampled (Kernel SHAP), 1.0 for LIME.
    """

    z: np.ndarray
    group: np.ndarray
    exact_weight: np.ndarray
    sampled_mass: float = 1.0
    enumerated_sizes: list[int] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.z.shape[0])

    def extend(self, other: CoalitionSample) -> None:
        self.z = np.concatenate([self.z, other.z])
        self.group = np.concatenate([self.group, other.group])
        self.exact_weight = np.concatenate([self.exact_weight, other.exact_weight])


def _pairs(draws: np.ndarray, first_pair: int, paired: bool = True) -> CoalitionSample:
    """Each draw followed by its complement, both in the draw's group; with ``paired=False`` the draws alone
    (plain sampling), one group each. Groups are numbered on from ``first_pair``."""
    n = draws.shape[0]
    groups = np.arange(n) + first_pair
    if not paired:
        return CoalitionSample(z=draws, group=groups, exact_weight=np.full(n, np.nan))
    z = np.empty((2 * n, draws.shape[1]), dtype=np.uint8)
    z[0::2], z[1::2] = draws, 1 - draws
    return CoalitionSample(z=z, group=np.repeat(groups, 2), exact_weight=np.full(2 * n, np.nan))


class LimeSampler:
    """LIME's coalitions: each superpixel kept with probability ½ (Captum's ``default_perturb_func``), paired
    unless ``paired=False``."""

    def __init__(self, n_features: int, rng: np.random.Generator, paired: bool = True):
        self.m, self.rng, self.pairs, self.paired = n_features, rng, 0, paired

    def start(self) -> CoalitionSample:
        return CoalitionSample(z=np.zeros((0, self.m), np.uint8), group=np.zeros(0, int), exact_weight=np.zeros(0))

    def draw(self, n_rows: int) -> CoalitionSample:
        """About ``n_rows`` more rows (an even number: pairs)."""
        n_pairs = max(1, n_rows // 2) if self.paired else max(1, n_rows)
        draws = (self.rng.random((n_pairs, self.m)) < 0.5).astype(np.uint8)
        out = _pairs(draws, self.pairs, self.paired)
        self.pairs += n_pairs
        return out


def shapley_size_mass(m: int) -> np.ndarray:
    """The Shapley kernel's total weight of each coalition size 1..M-1, normalised to sum 1 (index s-1)."""
    sizes = np.arange(1, m)
    mass = (m - 1) / (sizes * (m - sizes))
    return mass / mass.sum()


class KernelShapSampler:
    """Kernel SHAP's coalitions for a budget of ``n_samples`` evaluations: the empty and full coalitions, every
    coalition of the sizes the budget affords (enumerated from the outside in), then paired draws from the
    kernel's distribution over the remaining sizes. ``n_samples`` decides the enumeration; with a smaller
    budget spent (convergence-based stopping), the estimate is still unbiased for the same regression. With
    ``paired=False``: plain sampling as Captum does it (independent draws over all sizes, nothing enumerated)."""

    def __init__(self, n_features: int, n_samples: int, rng: np.random.Generator, paired: bool = True):
        self.m, self.rng, self.pairs, self.paired = n_features, rng, 0, paired
        mass = shapley_size_mass(n_features) if n_features > 1 else np.zeros(0)
        self.size_mass = mass
        left, remaining_mass = n_samples - 2, 1.0
        self.enumerated: list[int] = []
        for s in range(1, n_features // 2 + 1 if paired else 1):
            sizes = [s] if s == n_features - s else [s, n_features - s]
            count = sum(comb(n_features, k) for k in sizes)
            pair_mass = sum(mass[k - 1] for k in sizes)
            if remaining_mass <= 1e-12 or left * pair_mass / remaining_mass < count - 1e-9:
                break
            self.enumerated += sizes
            left -= count
            remaining_mass -= pair_mass
        self.sampled_sizes = np.array([k for k in range(1, n_features) if k not in self.enumerated], dtype=int)
        self.sampled_mass = max(0.0, remaining_mass) if len(self.sampled_sizes) else 0.0

    @property
    def exhaustive(self) -> bool:
        """Every coalition is enumerated: the fit is the exact Shapley value, nothing left to sample."""
        return len(self.sampled_sizes) == 0

    def start(self) -> CoalitionSample:
        """The empty and full coalitions and every enumerated coalition, with their exact kernel weights."""
        rows, weights = [np.zeros(self.m, np.uint8), np.ones(self.m, np.uint8)], [np.nan, np.nan]
        for k in self.enumerated:
            per = self.size_mass[k - 1] / comb(self.m, k)
            for idx in combinations(range(self.m), k):
                row = np.zeros(self.m, np.uint8)
                row[list(idx)] = 1
                rows.append(row)
                weights.append(per)
        z = np.stack(rows)
        weights = np.asarray(weights, dtype=np.float64)
        weights[:2] = np.inf  # the constraint rows (solved exactly, not weighted)
        return CoalitionSample(
            z=z, group=np.full(len(z), SHARED), exact_weight=weights, sampled_mass=self.sampled_mass,
            enumerated_sizes=sorted(self.enumerated),
        )

    def draw(self, n_rows: int) -> CoalitionSample:
        """About ``n_rows`` more sampled rows (pairs of a coalition and its complement)."""
        if self.exhaustive:
            return CoalitionSample(z=np.zeros((0, self.m), np.uint8), group=np.zeros(0, int), exact_weight=np.zeros(0))
        n_pairs = max(1, n_rows // 2) if self.paired else max(1, n_rows)
        probs = self.size_mass[self.sampled_sizes - 1]
        sizes = self.rng.choice(self.sampled_sizes, size=n_pairs, p=probs / probs.sum())
        keys = self.rng.random((n_pairs, self.m))
        ranks = np.argsort(np.argsort(keys, axis=1), axis=1)
        draws = (ranks < sizes[:, None]).astype(np.uint8)
        out = _pairs(draws, self.pairs, self.paired)
        self.pairs += n_pairs
        return out

