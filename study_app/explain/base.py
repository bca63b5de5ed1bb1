"""The one interface every explanation method implements, and the bookkeeping they all share.

A method is a small class with class-level ``defaults`` (its parameters and their default values) and a
``_attribute`` that turns a normalised batch into one H×W map per image. :class:`ExplanationMethod.explain`
adds what must be identical for every method: input validation, a fixed random seed (so the same
parameters always give the same map), removal of any hook left on the model, timing and metadata.

Map conventions (documented once here so rendering and faithfulness can rely on them):

* ``map_hw`` has the spatial size of the model input (the display image from
  :func:`trainers.predict.display_image` is the same region at display resolution; rendering resamples
  the map onto it, so maps overlay the region they explain);
* positive values are evidence *for* the target class; ``meta["signed"]`` says whether negative values
  are meaningful (False for Grad-CAM, saliency-style methods, which are non-negative by construction);
* the scale is the method's own (LIME coefficients, gradients × input, ...); rendering and the metrics
  normalise, so never compare raw magnitudes across methods.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, ClassVar

import captum
import numpy as np
import skimage
import torch
import torchvision
from torch import nn

from study_app.explain.hooks import no_leftover_hooks

IMAGENET_NORMALIZATION = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))

Normalization = tuple[Sequence[float], Sequence[float]]

# Informational warnings Captum emits on every call; they say nothing about the result.
_CAPTUM_NOTICES = (
    r"(?s).*did not already require gradients",
    r"(?s).*Setting forward, backward hooks and attributes on non-linear",
    r"(?s).*Setting backward hooks on ReLU activations",
)


@contextmanager
def _numpy_rng_restored() -> Iterator[None]:
    state = np.random.get_state()
    try:
        yield
    finally:
        np.random.set_state(state)


@dataclass
class Explanation:
    """One image's attribution map and how it was made.

    Attributes:
        map_hw: float32 array of shape (H, W), the model input's spatial size.
        meta: ``method``, ``params``, ``target``, ``signed``, ``versions`` (torch, captum, ...),
            ``seconds`` (wall time of the whole call, shared by the images of one batch) and
            method-specific details (e.g. the superpixel count).
    """

    map_hw: np.ndarray
    meta: dict = field(default_factory=dict)


class UnsupportedModelError(ValueError):
    """The method cannot give a correct map on this model (refused rather than silently wrong)."""


def library_versions() -> dict[str, str]:
    """Versions that determine a map, recorded in every explanation's metadata for provenance."""
    return {
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "captum": captum.__version__,
        "scikit-image": skimage.__version__,
        "numpy": np.__version__,
    }


def _check_value(name: str, value: Any, default: Any, choices: tuple | None) -> Any:
    """Coerce ``value`` to the type of ``default``; reject what cannot be coerced or is not allowed."""
    if choices is not None:
        if value not in choices:
            raise ValueError(
                f"parameter {name}={value!r} is not allowed; choose one of {', '.join(map(repr, choices))}"
            )
        return value
    if isinstance(default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"parameter {name} must be true or false, not {value!r}")
        return value
    if isinstance(default, int):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) != value:
            raise ValueError(f"parameter {name} must be an integer, not {value!r}")
        if value < 0:
            raise ValueError(f"parameter {name} must not be negative, got {value}")
        return int(value)
    if isinstance(default, float):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
            raise ValueError(f"parameter {name} must be a number, not {value!r}")
        value = float(value)
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"parameter {name} must be a finite non-negative number, got {value}")
        return value
    return value


class ExplanationMethod:
    """Base class: subclasses set ``name``, ``defaults``, optionally ``choices``, and implement ``_attribute``.

    Parameters named in ``speed_params`` change only how fast a map is computed (batch sizes), not the
    map itself, so they are left out of :attr:`cache_params`.
    """

    name: ClassVar[str] = ""
    title: ClassVar[str] = ""
    signed: ClassVar[bool] = True
    defaults: ClassVar[dict[str, Any]] = {}
    choices: ClassVar[dict[str, tuple]] = {}
    speed_params: ClassVar[frozenset[str]] = frozenset()
    positive_params: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, **params: Any):
        allowed = {"seed": 0, **self.defaults}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            raise ValueError(
                f"unknown parameter(s) {', '.join(unknown)} for method {self.name!r}; "
                f"allowed: {', '.join(sorted(allowed))}"
            )
        resolved = dict(allowed)
        for key, value in params.items():
            resolved[key] = _check_value(key, value, allowed[key], self.choices.get(key))
        for key in self.positive_params:
            if resolved[key] <= 0:
                raise ValueError(
                    f"parameter {key} of method {self.name!r} must be positive, got {resolved[key]}"
                )
        self.params: dict[str, Any] = resolved

    @property
    def cache_params(self) -> dict[str, Any]:
        """The parameters that determine the map (what a cache key must include)."""
        return {k: v for k, v in self.params.items() if k not in self.speed_params}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    def explain(
        self,
        model: nn.Module,
        x: torch.Tensor,
        target: int | Sequence[int],
        *,
        normalization: Normalization | None = None,
        segments: torch.Tensor | np.ndarray | None = None,
    ) -> Explanation | list[Explanation]:
        """Attribute ``target`` for each image of ``x``.

        Args:
            model: a classifier in eval mode; it is not modified (hooks are removed even on error).
            x: normalised input, 3×H×W or N×3×H×W.
            target: class index, or one per image for a batch.
            normalization: (mean, std) used to make ``x``; needed to build black/blurred baselines and
                to segment the true colours. Defaults to ImageNet's.
            segments: optional H×W (or N×H×W) integer superpixel labels for superpixel methods; by
                default they are computed from ``x`` with :func:`~study_app.explain.segmentation.superpixels`.

        Returns:
            An :class:`Explanation` for a single image (3-D input or batch of one), else a list of them.
        """
        single = x.dim() == 3 or (x.dim() == 4 and x.shape[0] == 1)
        batch, targets = self._validate(model, x, target)
        seg = self._validate_segments(segments, batch)
        norm = normalization or IMAGENET_NORMALIZATION
        if len(norm) != 2 or len(norm[0]) != batch.shape[1] or len(norm[1]) != batch.shape[1]:
            raise ValueError(f"normalization must be (mean, std) with {batch.shape[1]} values each")
        start = time.perf_counter()
        devices = [batch.device] if batch.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), _numpy_rng_restored(), no_leftover_hooks(model):
            with warnings.catch_warnings():
                for pattern in _CAPTUM_NOTICES:
                    warnings.filterwarnings("ignore", message=pattern)
                self.reseed()
                maps, extra = self._attribute(model, batch, targets, norm, seg)
        seconds = time.perf_counter() - start
        versions = library_versions()
        out = []
        for i, map_hw in enumerate(maps):
            map_hw = np.ascontiguousarray(np.asarray(map_hw, dtype=np.float32))
            if map_hw.shape != tuple(batch.shape[-2:]):
                raise RuntimeError(
                    f"{self.name} produced a {map_hw.shape} map for a {tuple(batch.shape[-2:])} input"
                )
            meta = {
                "method": self.name,
                "params": dict(self.params),
                "target": targets[i],
                "signed": self.signed,
                "versions": versions,
                "seconds": seconds,
                "batch_size": len(targets),
                **(extra[i] if extra else {}),
            }
            out.append(Explanation(map_hw=map_hw, meta=meta))
        return out[0] if single else out

    def reseed(self) -> None:
        """Seed torch and NumPy (Captum draws from both) with ``params['seed']``.

        Methods that loop over images call this before each one, so an image's map does not depend on
        its position in a batch. The caller's global RNG state is restored after :meth:`explain`.
        """
        seed = int(self.params["seed"])
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)

    def _attribute(
        self,
        model: nn.Module,
        x: torch.Tensor,
        targets: list[int],
        normalization: Normalization,
        segments: torch.Tensor | None,
    ) -> tuple[list[np.ndarray], list[dict] | None]:
        raise NotImplementedError

    # --- validation ---------------------------------------------------------------------------------

    @staticmethod
    def _validate(model: nn.Module, x: torch.Tensor, target) -> tuple[torch.Tensor, list[int]]:
        if not isinstance(model, nn.Module):
            raise TypeError(f"model must be a torch.nn.Module, not {type(model).__name__}")
        if model.training:
            raise ValueError(
                "model is in training mode; call model.eval() first (batch-norm statistics would change "
                "and the map would not explain the deployed model)"
            )
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"x must be a torch.Tensor (N×3×H×W), not {type(x).__name__}")
        if x.dim() == 3:
            x = x.unsqueeze(0)
        if x.dim() != 4 or x.shape[0] == 0:
            raise ValueError(f"x must have shape 3×H×W or N×3×H×W, got {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"x must be a float tensor (normalised image), got {x.dtype}")
        if not torch.isfinite(x).all():
            raise ValueError("x contains NaN or infinite values")
        n = x.shape[0]
        if isinstance(target, (int, np.integer)) and not isinstance(target, bool):
            targets = [int(target)] * n
        elif isinstance(target, torch.Tensor) and target.dim() == 0:
            targets = [int(target)] * n
        else:
            try:
                targets = [int(t) for t in target]
            except TypeError as exc:
                raise ValueError(f"target must be an int or one int per image, not {target!r}") from exc
            if len(targets) != n:
                raise ValueError(f"got {len(targets)} targets for {n} images")
        n_out = num_outputs(model)
        if n_out is not None:
            bad = [t for t in targets if not 0 <= t < n_out]
            if bad:
                raise ValueError(
                    f"target class index {bad[0]} is out of range for a model with {n_out} outputs"
                )
        param = next(model.parameters(), None)
        if param is not None and param.device != x.device:
            raise ValueError(f"x is on {x.device} but the model is on {param.device}")
        return x.detach().float(), targets

    @staticmethod
    def _validate_segments(segments, x: torch.Tensor) -> torch.Tensor | None:
        if segments is None:
            return None
        seg = torch.as_tensor(np.asarray(segments) if not isinstance(segments, torch.Tensor) else segments)
        if seg.dim() == 2:
            seg = seg.unsqueeze(0).expand(x.shape[0], -1, -1)
        if seg.dim() != 3 or tuple(seg.shape) != (x.shape[0], *x.shape[-2:]):
            raise ValueError(
                f"segments must be H×W or N×H×W matching x {tuple(x.shape)}, got {tuple(seg.shape)}"
            )
        if seg.is_floating_point():
            raise ValueError("segments must hold integer labels")
        return seg.long().to(x.device)


def num_outputs(model: nn.Module) -> int | None:
    """Class count of a ResNet-like model (``fc`` head or a folded zero-shot head), None if unknown."""
    if isinstance(getattr(model, "num_groups", None), int):
        return model.num_groups
    fc = getattr(model, "fc", None)
    if isinstance(fc, nn.Linear):
        return fc.out_features
    return None
