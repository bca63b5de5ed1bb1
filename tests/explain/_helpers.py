"""Shared by the explain tests: sizes, cheap method settings and synthetic pictures."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from study_app.explain.base import IMAGENET_NORMALIZATION

SIZE = 32

# Cheap settings per method so the whole suite stays fast on a 2-core CPU.
TINY_PARAMS = {
    "lime": {"n_samples": 24, "n_segments": 12},
    "kernel_shap": {"n_samples": 24, "n_segments": 12},
    "occlusion": {"window": 8, "stride": 8},
    "integrated_gradients": {"n_steps": 4},
    "smoothgrad": {"nt_samples": 3},
    "gradient_shap": {"n_samples": 3},
}


def smooth_pictures(n: int, size: int = SIZE, seed: int = 0) -> torch.Tensor:
    """N×3×size×size pictures in [0, 1]: upsampled low-resolution colour noise plus a disc."""
    g = torch.Generator().manual_seed(seed)
    img = F.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=(size, size), mode="bilinear", align_corners=False)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, size), torch.linspace(-1, 1, size), indexing="ij")
    disc = ((xx - 0.3) ** 2 + (yy + 0.2) ** 2 < 0.2).float()
    return (img * (1 - disc) + disc * torch.tensor([0.9, 0.2, 0.1]).view(3, 1, 1)).clamp(0, 1)


def normalise(pixels: torch.Tensor) -> torch.Tensor:
    mean, std = (torch.tensor(v).view(1, 3, 1, 1) for v in IMAGENET_NORMALIZATION)
    return (pixels - mean) / std
