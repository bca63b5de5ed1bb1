"""Perturbation methods: LIME, Kernel SHAP (both over the same SLIC superpixels) and Occlusion.

They only run forward passes, so they use :func:`~study_app.explain.model_variants.fast_forward` (folded
batch-norm, channels-last, inference mode) and evaluate ``perturbations_per_eval`` perturbed images per
forward pass. Occlusion's maps equal plain one-at-a-time Captum calls up to float32 rounding (checked in
``benchmarks/attribution_throughput.py``); LIME and Kernel SHAP fit Captum's surrogates on coalitions of
their own sampler, sampled until the map converged (``benchmarks/converged_maps.py`` compares them with
Captum's plain sampling).
"""

from __future__ import annotations

import numpy as np
from captum.attr import Occlusion

from study_app.explain.base import ExplanationMethod
from study_app.explain.model_variants import fast_forward
from study_app.explain.segmentation import segments_sha256, superpixels
from study_app.explain.surrogates import CONVERGED_SPLIT_HALF, estimate


class _SuperpixelMethod(ExplanationMethod):
    """Shared by LIME and Kernel SHAP: the same segmentation, the same coalition sampling and the same
    convergence-based stopping (:mod:`study_app.explain.surrogates`).

    ``sampling`` ``"paired"`` evaluates every coalition with its complement (and, for Kernel SHAP, enumerates
    the coalition sizes the budget affords); ``"plain"`` draws independently, as Captum's ``Lime``/``KernelShap``
    do. Kernel SHAP defaults to paired (3.7× fewer evaluations than plain sampling for the same agreement with
    an 8,000-sample reference, ``benchmarks/converged_maps.py``); LIME to plain: pairing gained LIME little
    (about 1.2× near ρ 0.95 on 6 photos, none on the benchmark's 3), against a reference that is itself only
    that converged (README, known limits).
    ``n_samples`` is the most model evaluations a map may spend; from ``min_samples`` on (capped at
    ``n_samples``), sampling stops after a round of ``round_size`` evaluations in which the two halves of the
    samples agree to ``converge_at`` (Spearman over pixels; 0 never stops early). The map's metadata records the
    evaluations spent, the split-half agreement and why sampling stopped.
    """

    signed = True
    defaults = {
        "n_segments": 50,
        "compactness": 10.0,
        "sampling": "paired",
        "n_samples": 4000,
        "min_samples": 512,
        "round_size": 256,
        "converge_at": CONVERGED_SPLIT_HALF,
        "perturbations_per_eval": 16,
    }
    choices = {"sampling": ("paired", "plain")}
    speed_params = frozenset({"perturbations_per_eval"})
    positive_params = frozenset({"n_segments", "n_samples", "round_size", "perturbations_per_eval"})

    def __init__(self, **params):
        super().__init__(**params)
        if not 0.0 <= self.params["converge_at"] < 1.0:
            raise ValueError(f"parameter converge_at must be in [0, 1), got {self.params['converge_at']}")

    def _attribute(self, model, x, targets, normalization, segments):
        forward = fast_forward(model)
        p = self.params
        maps, extra = [], []
        for i in range(x.shape[0]):
            seg = (
                segments[i]
                if segments is not None
                else superpixels(x[i], *normalization, p["n_segments"], p["compactness"])
            )
            result = estimate(
                self.name, forward, x[i : i + 1], seg, targets[i],
                n_samples=p["n_samples"], min_samples=min(p["min_samples"], p["n_samples"]), round_size=p["round_size"],
                converge_at=p["converge_at"], seed=int(p["seed"]), batch_size=p["perturbations_per_eval"],
                paired=p["sampling"] == "paired",
            )
            maps.append(result.values[seg.cpu().numpy()].astype(np.float32))
            extra.append({
                "n_superpixels": int(seg.max()) + 1,
                "segments_sha256": segments_sha256(seg),
                "convergence": result.record(),
            })
        return maps, extra


class LimeMethod(_SuperpixelMethod):
    """LIME (Ribeiro et al. 2016) as Captum's ``Lime`` fits it: random on/off patterns of the superpixels
    (removed ones set to the mean colour, 0 after normalisation), weighted by Captum's exponential kernel on
    cosine distance, fitted with Lasso (alpha 0.01), sampled until converged
    (:mod:`study_app.explain.surrogates`). The map value of a pixel is its superpixel's coefficient (signed:
    positive supports the target class).
    """

    name = "lime"
    title = "LIME"
    defaults = {**_SuperpixelMethod.defaults, "sampling": "plain"}


class KernelShapMethod(_SuperpixelMethod):
    """Kernel SHAP (Lundberg & Lee 2017) over the same superpixels as LIME: coalitions weighted by the Shapley
    kernel, fitted by least squares with the efficiency constraint solved exactly, so the values approximate
    the Shapley values of the superpixels (signed, summing to f(x) - f(baseline)); Captum's ``KernelShap``
    estimates the same with plain sampling.
    """

    name = "kernel_shap"
    title = "Kernel SHAP"


class OcclusionMethod(ExplanationMethod):
    """Occlusion (Zeiler & Fergus 2014): slide a ``window``×``window`` patch of the mean colour with step
    ``stride`` over the image; a pixel's value is the average drop of the target score over the patches
    covering it (signed: positive means hiding it hurts the prediction).
    """

    name = "occlusion"
    title = "Occlusion"
    defaults = {"window": 32, "stride": 16, "perturbations_per_eval": 8}
    speed_params = frozenset({"perturbations_per_eval"})
    positive_params = frozenset({"window", "stride", "perturbations_per_eval"})

    def _attribute(self, model, x, targets, normalization, segments):
        h, w = x.shape[-2:]
        window = self.params["window"]
        if window > min(h, w):
            raise ValueError(f"occlusion window {window} is larger than the {h}×{w} input")
        explainer = Occlusion(fast_forward(model))
        maps = []
        for i in range(x.shape[0]):
            attr = explainer.attribute(
                x[i : i + 1],
                sliding_window_shapes=(x.shape[1], window, window),
                strides=(x.shape[1], self.params["stride"], self.params["stride"]),
                baselines=0.0,
                target=targets[i],
                perturbations_per_eval=self.params["perturbations_per_eval"],
            )
            maps.append(attr[0].detach().float().mean(dim=0).cpu().numpy())
        return maps, None
