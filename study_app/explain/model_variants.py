"""Derived copies of a model that some methods need, built once per model and never mutating it.

* :func:`fast_forward` — for perturbation methods (LIME, Kernel SHAP, Occlusion) which only run
  forward passes: batch-norm folded into the preceding convolutions, channels-last memory layout (oneDNN's
  fast convolutions on CPU) and ``torch.inference_mode``. In eval mode
  the folded network computes the same function (outputs agree to ~1e-6), it is simply cheaper per
  image, which is where perturbation methods spend their time.
* :func:`separate_relu_copy` — torchvision's BasicBlock/Bottleneck call one ``self.relu`` module two or
  three times per forward, and in place. Captum's DeepLift and Guided Backprop override the backward of
  each ReLU *module*, so a reused module gets the wrong multipliers: maps would be silently wrong. The
  copy gives every call its own non-inplace ``nn.ReLU``; a probe forward then verifies that no ReLU
  module is called twice, otherwise :class:`UnsupportedModelError` is raised.
* :func:`last_conv_block` — the layer Grad-CAM attributes to (the last block of ``layer4``).

Copies are cached per model object and rebuilt if any parameter or buffer was modified in place
(tracked through the tensors' version counters), so a cached copy never explains stale weights.
"""

from __future__ import annotations

import copy
import threading
import types
import weakref
from collections.abc import Callable

import torch
from torch import nn
from torch.fx.experimental.optimization import fuse
from torchvision.models import ResNet
from torchvision.models.resnet import BasicBlock, Bottleneck

from study_app.explain.base import UnsupportedModelError

_lock = threading.Lock()
_fast_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_relu_cache: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _weights_version(model: nn.Module) -> tuple:
    return tuple((t.data_ptr(), t._version) for t in [*model.parameters(), *model.buffers()])


def _cached(
    cache: weakref.WeakKeyDictionary, model: nn.Module, build: Callable[[nn.Module], nn.Module]
) -> nn.Module:
    version = _weights_version(model)
    with _lock:
        hit = cache.get(model)
        if hit is not None and hit[0] == version:
            return hit[1]
    built = build(model)
    with _lock:
        cache[model] = (version, built)
    return built


def last_conv_block(model: nn.Module) -> nn.Module:
    """The last residual block of ``layer4`` (also inside a zero-shot model's ``backbone``)."""
    for owner in (model, getattr(model, "backbone", None)):
        layer4 = getattr(owner, "layer4", None)
        if isinstance(layer4, nn.Sequential) and len(layer4) > 0:
            return layer4[-1]
    raise UnsupportedModelError(
        f"{type(model).__name__} has no layer4 (ResNet) block for Grad-CAM; only torchvision ResNets "
        "and the zero-shot ImageNet fold are supported"
    )


def _fold_batchnorm(model: nn.Module) -> nn.Module:
    try:
        fused = fuse(model, inplace=False)
    except Exception:  # noqa: BLE001 - a model fx cannot trace is used unfused: slower, same result
        fused = copy.deepcopy(model)
    return fused.eval().to(memory_format=torch.channels_last)


class _FastModel:
    """The folded, channels-last eager model. On this project's reference CPU (oneDNN, AVX-512) it runs a
    ResNet18 close to the cores' float32 peak at 8-16 images per call; a frozen TorchScript copy
    (deprecated in torch 2.14) and ``torch.compile`` were measured slower (``benchmarks/``), so there is
    nothing to compile and nothing that could make a map differ from the eager model's."""

    def __init__(self, model: nn.Module):
        self.eager = _fold_batchnorm(model)

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.eager(x.contiguous(memory_format=torch.channels_last))


def fast_forward(model: nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """A forward function for perturbation methods: folded batch-norm, channels-last, inference mode.
    The returned tensor is an ordinary (non-inference) one Captum may keep using."""
    fast = _cached(_fast_cache, model, _FastModel)

    def forward(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            out = fast(x)
        return out.clone()

    return forward


def _basic_block_forward(self: BasicBlock, x: torch.Tensor) -> torch.Tensor:
    identity = x if self.downsample is None else self.downsample(x)
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.bn2(self.conv2(out))
    return self.relu_out(out + identity)


def _bottleneck_forward(self: Bottleneck, x: torch.Tensor) -> torch.Tensor:
    identity = x if self.downsample is None else self.downsample(x)
    out = self.relu(self.bn1(self.conv1(x)))
    out = self.relu_mid(self.bn2(self.conv2(out)))
    out = self.bn3(self.conv3(out))
    return self.relu_out(out + identity)


def _split_relus(model: nn.Module) -> nn.Module:
    clone = copy.deepcopy(model).eval()
    for module in clone.modules():
        if isinstance(module, BasicBlock):
            module.relu = nn.ReLU(inplace=False)
            module.relu_out = nn.ReLU(inplace=False)
            module.forward = types.MethodType(_basic_block_forward, module)
        elif isinstance(module, Bottleneck):
            module.relu = nn.ReLU(inplace=False)
            module.relu_mid = nn.ReLU(inplace=False)
            module.relu_out = nn.ReLU(inplace=False)
            module.forward = types.MethodType(_bottleneck_forward, module)
    for module in clone.modules():
        if isinstance(module, nn.ReLU):
            module.inplace = False
    return clone


def reused_relu_modules(model: nn.Module, x: torch.Tensor) -> list[str]:
    """Names of ReLU modules called more than once in one forward pass of ``x`` (probe with hooks)."""
    calls: dict[str, int] = {}
    handles = []
    for name, module in model.named_modules():
        if isinstance(module, nn.ReLU):
            handles.append(
                module.register_forward_hook(
                    lambda m, i, o, n=name: calls.__setitem__(n, calls.get(n, 0) + 1)
                )
            )
    try:
        with torch.no_grad():
            model(x[:1])
    finally:
        for h in handles:
            h.remove()
    return sorted(n for n, c in calls.items() if c > 1)


def separate_relu_copy(model: nn.Module, probe: torch.Tensor) -> nn.Module:
    """A copy of ``model`` where every ReLU call has its own non-inplace module (see module docstring).

    Raises:
        UnsupportedModelError: if some ReLU module is still reused (an architecture we cannot rewrite).
    """
    if not any(isinstance(m, ResNet) for m in model.modules()):
        raise UnsupportedModelError(
            f"DeepLift/Guided Backprop are only supported on torchvision ResNets, not {type(model).__name__}: "
            "functional activations elsewhere would be treated as linear and give a wrong map"
        )
    clone = _cached(_relu_cache, model, _split_relus)
    reused = reused_relu_modules(clone, probe)
    if reused:
        raise UnsupportedModelError(
            "DeepLift/Guided Backprop need one ReLU module per activation, but "
            f"{', '.join(reused[:3])} is called more than once in {type(model).__name__}; refusing to "
            "produce a wrong map"
        )
    return clone
