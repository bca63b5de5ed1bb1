"""Perturbation methods over Captum: LIME, Kernel SHAP (both over the same SLIC superpixels) and Occlusion.

They only run forward passes, so they use :func:`~study_app.explain.model_variants.fast_forward` (folded
batch-norm, channels-last, inference mode) and evaluate ``perturbations_per_eval`` perturbed images per
forward pass. Neither changes the random draws nor the fitted surrogate, so maps equal those of plain
one-at-a-time Captum calls up to float32 rounding (checked in ``benchmarks/attribution_throughput.py``).
"""

from __future__ import annotations

from captum.attr import KernelShap, Lime, Occlusion

from study_app.explain.base import ExplanationMethod
from study_app.explain.model_variants import fast_forward
from study_app.explain.segmentation import segments_sha256, superpixels


class _SuperpixelMethod(ExplanationMethod):
    """Shared by LIME and Kernel SHAP: the same segmentation function and the same parameters for it."""

    signed = True
    defaults = {"n_segments": 50, "compactness": 10.0, "n_samples": 200, "perturbations_per_eval": 8}
    speed_params = frozenset({"perturbations_per_eval"})
    positive_params = frozenset({"n_segments", "n_samples", "perturbations_per_eval"})

    def _explainer(self, forward):
        raise NotImplementedError

    def _attribute(self, model, x, targets, normalization, segments):
        explainer = self._explainer(fast_forward(model))
        maps, extra = [], []
        for i in range(x.shape[0]):
            self.reseed()
            seg = (
                segments[i]
                if segments is not None
                else superpixels(x[i], *normalization, self.params["n_segments"], self.params["compactness"])
            )
            attr = explainer.attribute(
                x[i : i + 1],
                target=targets[i],
                feature_mask=seg.view(1, 1, *seg.shape),
                n_samples=self.params["n_samples"],
                perturbations_per_eval=self.params["perturbations_per_eval"],
            )
            maps.append(attr[0, 0].detach().float().cpu().numpy())
            extra.append({"n_superpixels": int(seg.max()) + 1, "segments_sha256": segments_sha256(seg)})
        return maps, extra


class LimeMethod(_SuperpixelMethod):
    """LIME (Ribeiro et al. 2016) via ``captum.attr.Lime``: ``n_samples`` random on/off patterns of the
    superpixels (removed ones set to the mean colour, 0 after normalisation), weighted by an exponential
    kernel on cosine distance, fitted with Lasso (alpha 0.01). The map value of a pixel is its
    superpixel's coefficient (signed: positive supports the target class).
    """

    name = "lime"
    title = "LIME"

    def _explainer(self, forward):
        return Lime(forward)


class KernelShapMethod(_SuperpixelMethod):
    """Kernel SHAP (Lundberg & Lee 2017) via ``captum.attr.KernelShap`` over the same superpixels as LIME:
    coalitions weighted by the Shapley kernel and fitted by linear regression, so coefficients
    approximate Shapley values of the superpixels (signed, summing to f(x) - f(baseline)).
    """

    name = "kernel_shap"
    title = "Kernel SHAP"

    def _explainer(self, forward):
        return KernelShap(forward)


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
