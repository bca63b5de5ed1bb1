"""Gradient-based methods over Captum: Grad-CAM, Integrated Gradients, Saliency, SmoothGrad, Gradient SHAP,
DeepLift and Guided Backprop. All of them take a whole batch of images in one call.
"""

from __future__ import annotations

import numpy as np
import torch
from captum.attr import (
    DeepLift,
    GradientShap,
    GuidedBackprop,
    IntegratedGradients,
    LayerAttribution,
    LayerGradCam,
    NoiseTunnel,
    Saliency,
)
from torch import nn
from torchvision.transforms.functional import gaussian_blur

from study_app.explain.base import ExplanationMethod, Normalization
from study_app.explain.hooks import no_leftover_hooks
from study_app.explain.model_variants import last_conv_block, separate_relu_copy

BASELINES = ("black", "blurred", "noise", "mean")


def make_baseline(x: torch.Tensor, kind: str, normalization: Normalization) -> torch.Tensor:
    """A reference input in the model's normalised space.

    ``black``: all pixels 0 before normalisation; ``mean``: the dataset mean colour (0 after
    normalisation, Captum's default); ``blurred``: the image under a Gaussian blur with sigma = 1/20 of its
    size (Sturmfels et al. 2020); ``noise``: uniform random pixels (uses the seeded torch RNG).
    """
    mean = torch.as_tensor(normalization[0], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    std = torch.as_tensor(normalization[1], dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    if kind == "black":
        return ((0.0 - mean) / std).expand_as(x).contiguous()
    if kind == "mean":
        return torch.zeros_like(x)
    if kind == "blurred":
        sigma = max(x.shape[-1], x.shape[-2]) / 20.0
        size = int(2 * round(3 * sigma) + 1)
        return gaussian_blur(x, kernel_size=[size, size], sigma=[sigma, sigma])
    if kind == "noise":
        return (torch.rand(x.shape, dtype=x.dtype, device=x.device) - mean) / std
    raise ValueError(f"unknown baseline {kind!r}; choose one of {', '.join(BASELINES)}")


def _chunks(n: int, size: int):
    size = max(1, size)
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _to_maps(attr: torch.Tensor, reduce: str) -> list[np.ndarray]:
    """N×C×H×W attributions to N H×W maps: ``sum`` keeps the sign, ``maxabs`` is the saliency convention."""
    attr = attr.detach().float()
    per_pixel = attr.sum(dim=1) if reduce == "sum" else attr.abs().amax(dim=1)
    return [m.cpu().numpy() for m in per_pixel]


class GradCam(ExplanationMethod):
    """Grad-CAM (Selvaraju et al. 2017) on the last residual block of ``layer4``.

    Channel weights are the spatially averaged gradients of the target score, the weighted channel sum
    is passed through a ReLU (positive evidence only), then bilinearly upsampled to the input size.
    Captum's ``LayerGradCam`` computes gradients only down to that layer (``autograd.grad``), not the
    parameters' gradients, which is why it is cheaper than a full ``backward``.
    """

    name = "gradcam"
    title = "Grad-CAM"
    signed = False
    defaults = {"batch_size": 16}
    speed_params = frozenset({"batch_size"})
    positive_params = frozenset({"batch_size"})

    def _attribute(self, model, x, targets, normalization, segments):
        layer = last_conv_block(model)
        cam = LayerGradCam(model, layer)
        maps: list[np.ndarray] = []
        for part in _chunks(x.shape[0], self.params["batch_size"]):
            attr = cam.attribute(x[part], target=targets[part], relu_attributions=True)
            up = LayerAttribution.interpolate(attr, tuple(x.shape[-2:]), interpolate_mode="bilinear")
            maps += [m[0].detach().float().cpu().numpy() for m in up]
        return maps, [{"layer": _module_name(model, layer)}] * x.shape[0]


def _module_name(model: nn.Module, target: nn.Module) -> str:
    return next((n for n, m in model.named_modules() if m is target), type(target).__name__)


class IntegratedGradientsMethod(ExplanationMethod):
    """Integrated Gradients (Sundararajan et al. 2017): (x - baseline) × the path-averaged gradient,
    summed over colour channels (signed). ``n_steps`` Gauss-Legendre points; ``internal_batch_size``
    bounds memory and sets how many path points share one forward/backward pass.
    """

    name = "integrated_gradients"
    title = "Integrated Gradients"
    defaults = {"baseline": "black", "n_steps": 32, "internal_batch_size": 32}
    choices = {"baseline": BASELINES}
    speed_params = frozenset({"internal_batch_size"})
    positive_params = frozenset({"n_steps", "internal_batch_size"})

    def _attribute(self, model, x, targets, normalization, segments):
        base = make_baseline(x, self.params["baseline"], normalization)
        attr = IntegratedGradients(model).attribute(
            x,
            baselines=base,
            target=targets,
            n_steps=self.params["n_steps"],
            internal_batch_size=self.params["internal_batch_size"],
        )
        return _to_maps(attr, "sum"), None


class SaliencyMethod(ExplanationMethod):
    """Vanilla gradient saliency (Simonyan et al. 2014): max over channels of |∂score/∂pixel| (unsigned)."""

    name = "saliency"
    title = "Saliency"
    signed = False
    defaults = {}

    def _attribute(self, model, x, targets, normalization, segments):
        attr = Saliency(model).attribute(x, target=targets, abs=True)
        return _to_maps(attr, "maxabs"), None


class SmoothGrad(ExplanationMethod):
    """SmoothGrad (Smilkov et al. 2017): saliency averaged over ``nt_samples`` noisy copies; the noise
    standard deviation is ``noise_level`` × the input's value range (the paper's 10-20 % rule).
    """

    name = "smoothgrad"
    title = "SmoothGrad"
    signed = False
    defaults = {"nt_samples": 16, "noise_level": 0.15, "nt_samples_batch_size": 16}
    speed_params = frozenset({"nt_samples_batch_size"})
    positive_params = frozenset({"nt_samples", "nt_samples_batch_size"})

    def _attribute(self, model, x, targets, normalization, segments):
        maps: list[np.ndarray] = []
        tunnel = NoiseTunnel(Saliency(model))
        for i in range(x.shape[0]):  # the noise level is relative to each image's own range
            self.reseed()
            xi = x[i : i + 1]
            stdev = float(self.params["noise_level"] * (xi.max() - xi.min()))
            attr = tunnel.attribute(
                xi,
                nt_type="smoothgrad",
                nt_samples=self.params["nt_samples"],
                nt_samples_batch_size=self.params["nt_samples_batch_size"],
                stdevs=stdev,
                target=targets[i],
                abs=True,
            )
            maps += _to_maps(attr, "maxabs")
        return maps, None


class GradientShapMethod(ExplanationMethod):
    """Gradient SHAP (Lundberg & Lee 2017, Captum's expected-gradients variant): Integrated Gradients
    averaged over random points between the input (plus Gaussian noise of ``noise_level`` × range) and
    baselines drawn from black, blurred and noise references. Summed over channels (signed).
    """

    name = "gradient_shap"
    title = "Gradient SHAP"
    defaults = {"n_samples": 16, "noise_level": 0.09}
    positive_params = frozenset({"n_samples"})

    def _attribute(self, model, x, targets, normalization, segments):
        maps: list[np.ndarray] = []
        explainer = GradientShap(model)
        for i in range(x.shape[0]):
            self.reseed()
            xi = x[i : i + 1]
            refs = torch.cat([make_baseline(xi, k, normalization) for k in ("black", "blurred", "noise")])
            attr = explainer.attribute(
                xi,
                baselines=refs,
                n_samples=self.params["n_samples"],
                stdevs=float(self.params["noise_level"] * (xi.max() - xi.min())),
                target=targets[i],
            )
            maps += _to_maps(attr, "sum")
        return maps, None


class DeepLiftMethod(ExplanationMethod):
    """DeepLift (Shrikumar et al. 2017, Rescale rule) against a black baseline, summed over channels.

    Runs on :func:`~study_app.explain.model_variants.separate_relu_copy`, because torchvision ResNets
    reuse one in-place ReLU module per block, which would make Captum's DeepLift silently wrong.
    """

    name = "deeplift"
    title = "DeepLift"
    defaults = {"baseline": "black"}
    choices = {"baseline": BASELINES}

    def _attribute(self, model, x, targets, normalization, segments):
        clone = separate_relu_copy(model, x)
        with no_leftover_hooks(clone):
            base = make_baseline(x, self.params["baseline"], normalization)
            attr = DeepLift(clone).attribute(x, baselines=base, target=targets)
        return _to_maps(attr, "sum"), None


class GuidedBackpropMethod(ExplanationMethod):
    """Guided Backpropagation (Springenberg et al. 2015): only positive gradients pass each ReLU; shown as
    max over channels of the absolute value. Uses the separate-ReLU copy for the same reason as DeepLift.
    """

    name = "guided_backprop"
    title = "Guided Backprop"
    signed = False
    defaults = {}

    def _attribute(self, model, x, targets, normalization, segments):
        clone = separate_relu_copy(model, x)
        with no_leftover_hooks(clone):
            attr = GuidedBackprop(clone).attribute(x, target=targets)
        return _to_maps(attr, "maxabs"), None


__all__ = [
    "BASELINES",
    "DeepLiftMethod",
    "GradCam",
    "GradientShapMethod",
    "GuidedBackpropMethod",
    "IntegratedGradientsMethod",
    "SaliencyMethod",
    "SmoothGrad",
    "make_baseline",
]
