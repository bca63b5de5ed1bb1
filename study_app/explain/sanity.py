"""Model-randomisation sanity check (Adebayo et al. 2018, "Sanity Checks for Saliency Maps").

If a map barely changes when the model's top layers are re-initialised, it does not explain what the
model learned (edge detectors pass this test badly). We re-initialise ``layer4`` and ``fc`` of a copy
(cascading from the top, as in the paper) and report the Spearman rank correlation between the map of
the trained model and that of the copy: near 1 means *fails* the check, near 0 (or negative) passes.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from study_app.explain.base import ExplanationMethod, Normalization

DEFAULT_RANDOMIZED_LAYERS = ("layer4", "fc")
# Appended to a checkpoint's sha256 for the randomised copy used as a study's negative control, so its maps
# get their own cache keys and never mix with the trained model's.
RANDOMIZED_SUFFIX = "+randomized-top-layers"


def randomized_copy(
    model: nn.Module, layers: Sequence[str] = DEFAULT_RANDOMIZED_LAYERS, seed: int = 0
) -> nn.Module:
    """A deep copy of ``model`` whose named layers (matched by last name component, e.g. ``backbone.fc``)
    are re-initialised with their default initialisers under a fixed seed.

    Raises:
        ValueError: if none of ``layers`` exists in the model.
    """
    clone = copy.deepcopy(model).eval()
    targets = [
        m for name, m in clone.named_modules() if name.split(".")[-1] in layers and name.count(".") <= 1
    ]
    if not targets:
        raise ValueError(f"none of the layers {', '.join(layers)} found in {type(model).__name__}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for top in targets:
            for module in top.modules():
                if hasattr(module, "reset_running_stats"):
                    module.reset_running_stats()
                if hasattr(module, "reset_parameters"):
                    module.reset_parameters()
    return clone


def rank_correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman correlation of two maps.

    If exactly one map is constant (typically: the randomised model's Grad-CAM or LIME map collapses to
    zero) there is no rank relation left, scored 0.0 (the map clearly depended on the weights); if both
    are constant nothing can be compared and the result is NaN.
    """
    a, b = np.asarray(a, dtype=np.float64).ravel(), np.asarray(b, dtype=np.float64).ravel()
    if a.shape != b.shape:
        raise ValueError(f"maps differ in size: {a.size} vs {b.size}")
    flat_a, flat_b = np.ptp(a) == 0, np.ptp(b) == 0
    if flat_a and flat_b:
        return float("nan")
    if flat_a or flat_b:
        return 0.0
    return float(spearmanr(a, b).statistic)


def randomization_check(
    method: ExplanationMethod,
    model: nn.Module,
    x: torch.Tensor,
    target: int,
    normalization: Normalization | None = None,
    original_map: np.ndarray | None = None,
    layers: Sequence[str] = DEFAULT_RANDOMIZED_LAYERS,
    seed: int = 0,
) -> float:
    """Spearman correlation between the map on ``model`` and on :func:`randomized_copy` of it.

    ``original_map`` avoids recomputing the trained model's map when it is already known. The method's
    own seed is the same for both runs, so only the weights differ.
    """
    if original_map is None:
        original_map = method.explain(model, x, target, normalization=normalization).map_hw
    random_model = randomized_copy(model, layers, seed)
    randomized = method.explain(random_model, x, target, normalization=normalization).map_hw
    return rank_correlation(original_map, randomized)
