"""Superpixels shared by LIME and Kernel SHAP, so both methods explain the same regions of an image.

The seed study's LIME and SHAP used different segmentations, so participants compared segmentations
rather than methods. Here both call :func:`superpixels` with the same arguments, which is deterministic
(SLIC with a fixed grid initialisation), so a given image always gets the identical label map.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np
import torch
from skimage.segmentation import slic


def denormalize(x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Undo ``Normalize(mean, std)``: back to [0, 1] pixel values (clipped)."""
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(-1, 1, 1)
    return (x * s + m).clamp(0.0, 1.0)


def superpixels(
    x: torch.Tensor,
    mean: Sequence[float],
    std: Sequence[float],
    n_segments: int = 50,
    compactness: float = 10.0,
) -> torch.Tensor:
    """SLIC superpixels of one normalised image (3×H×W), as an H×W LongTensor labelled 0..K-1.

    SLIC runs on the de-normalised RGB picture in CIELAB space (scikit-image's default), the colours
    a person sees; grayscale images (MRI) work because their three channels are equal. Labels are made
    consecutive so that Captum's feature count equals the number of superpixels.

    SLIC's connectivity step merges everything into one region on featureless or pure-noise images;
    Kernel SHAP needs at least two features, so such images fall back to :func:`grid_segments`.
    """
    if x.dim() != 3:
        raise ValueError(f"superpixels expects one image 3×H×W, got {tuple(x.shape)}")
    if n_segments < 1:
        raise ValueError(f"n_segments must be at least 1, got {n_segments}")
    rgb = denormalize(x.detach().float().cpu(), mean, std).permute(1, 2, 0).numpy().astype(np.float64)
    labels = slic(rgb, n_segments=n_segments, compactness=compactness, start_label=0, channel_axis=-1)
    _, consecutive = np.unique(labels, return_inverse=True)
    if consecutive.max() < 1 and n_segments > 1:
        return grid_segments(x.shape[-2], x.shape[-1], n_segments).to(x.device)
    return torch.from_numpy(consecutive.reshape(labels.shape).astype(np.int64)).to(x.device)


def grid_segments(height: int, width: int, n_segments: int) -> torch.Tensor:
    """A regular grid of about ``n_segments`` rectangular cells, labelled row by row from 0."""
    side = max(1, int(round(n_segments**0.5)))
    rows = torch.arange(height) * side // height
    cols = torch.arange(width) * side // width
    return (rows[:, None] * side + cols[None, :]).long()


def segments_sha256(segments: torch.Tensor) -> str:
    """Fingerprint of a label map, recorded in metadata so identical segmentations can be checked."""
    arr = np.ascontiguousarray(segments.detach().cpu().numpy().astype(np.int64))
    return hashlib.sha256(arr.tobytes() + str(arr.shape).encode()).hexdigest()
