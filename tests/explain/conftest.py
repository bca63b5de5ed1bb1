"""Small, real fixtures: torchvision ResNet18s on 32 px inputs and smooth synthetic pictures.

Weights are random but seeded, which is enough: every property tested here (shapes, hooks, seeding,
equality with plain Captum, caching) must hold for any weights.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from trainers.checkpoint import CardBuilder, save_checkpoint
from trainers.models import build_resnet

from ._helpers import SIZE, normalise, smooth_pictures


@pytest.fixture(scope="package", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from threads, and on a shared 2-core machine OpenMP threads spinning
    against other jobs made these tests 5-10x slower; restored afterwards for other packages' tests."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def resnet() -> torch.nn.Module:
    torch.manual_seed(0)
    return build_resnet("resnet18", 3).eval()


@pytest.fixture(scope="session")
def batch() -> torch.Tensor:
    """Two normalised 32 px pictures."""
    return normalise(smooth_pictures(2))


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory, resnet) -> Path:
    directory = tmp_path_factory.mktemp("ckpt")
    save_checkpoint(directory, resnet, CardBuilder("resnet18", ["cat", "dog", "fox"], SIZE))
    return directory


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory) -> Path:
    """Three image files: two RGB PNGs of different sizes and a grayscale JPEG (MRI-like)."""
    directory = tmp_path_factory.mktemp("images")
    pics = smooth_pictures(3, size=48, seed=1)
    for i, name in enumerate(["a.png", "b.png"]):
        arr = (pics[i].permute(1, 2, 0).numpy() * 255).astype(np.uint8)
        Image.fromarray(arr).resize((48 + 16 * i, 40)).save(directory / name)
    gray = (pics[2].mean(0).numpy() * 255).astype(np.uint8)
    Image.fromarray(gray, mode="L").save(directory / "scan.jpg")
    return directory
