"""The registry of explanation methods: adding a method is one class and one line here.

Use :func:`get_method` rather than the classes: it validates parameters against each method's defaults
and fails with a message listing what is allowed.

Example::

    method = get_method("lime", n_samples=300)
    explanation = method.explain(checkpoint.model, x, target=0, normalization=(checkpoint.mean, checkpoint.std))
"""

from __future__ import annotations

from typing import Any

from study_app.explain.base import Explanation, ExplanationMethod, UnsupportedModelError
from study_app.explain.gradient_methods import (
    DeepLiftMethod,
    GradCam,
    GradientShapMethod,
    GuidedBackpropMethod,
    IntegratedGradientsMethod,
    SaliencyMethod,
    SmoothGrad,
)
from study_app.explain.perturbation_methods import KernelShapMethod, LimeMethod, OcclusionMethod

METHODS: dict[str, type[ExplanationMethod]] = {
    cls.name: cls
    for cls in (
        GradCam,
        IntegratedGradientsMethod,
        LimeMethod,
        KernelShapMethod,
        OcclusionMethod,
        SaliencyMethod,
        GradientShapMethod,
        SmoothGrad,
        DeepLiftMethod,
        GuidedBackpropMethod,
    )
}

# The seed study compared LIME and SHAP; Captum has no Anchors, and Grad-CAM is the standard CNN map.
DEFAULT_TRIO: tuple[str, ...] = ("lime", "kernel_shap", "gradcam")


def get_method(name: str, **params: Any) -> ExplanationMethod:
    """An explanation method by registry name, with ``params`` overriding its defaults.

    Raises:
        ValueError: for an unknown name or an unknown/invalid parameter.
    """
    cls = METHODS.get(name)
    if cls is None:
        raise ValueError(f"unknown explanation method {name!r}; choose one of {', '.join(METHODS)}")
    return cls(**params)


def method_defaults(name: str) -> dict[str, Any]:
    """All parameters of ``name`` with their default values (including ``seed``)."""
    return dict(get_method(name).params)


__all__ = [
    "DEFAULT_TRIO",
    "METHODS",
    "Explanation",
    "ExplanationMethod",
    "UnsupportedModelError",
    "get_method",
    "method_defaults",
]
