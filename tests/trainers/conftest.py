"""Tiny image folders generated on the fly: an easy two-class task (red vs blue blobs on noise)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image


def make_image(kind: str, rng: np.random.Generator, size: int = 40, mode: str = "RGB") -> Image.Image:
    arr = rng.integers(0, 90, size=(size, size, 3), dtype=np.uint8)
    cx, cy = rng.integers(8, size - 8, size=2)
    yy, xx = np.mgrid[:size, :size]
    blob = (xx - cx) ** 2 + (yy - cy) ** 2 < rng.integers(30, 60)
    colour = {"cat": (230, 40, 40), "dog": (40, 40, 230), "bird": (40, 230, 40)}[kind]
    arr[blob] = colour
    img = Image.fromarray(arr, "RGB")
    return img.convert(mode) if mode != "RGB" else img


def write_class_folders(root: Path, classes=("cat", "dog"), n: int = 30, seed: int = 0, size: int = 40) -> Path:
    rng = np.random.default_rng(seed)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            make_image(c, rng, size).save(root / c / f"{c}_{i:03d}.jpg", quality=92)
    return root


@pytest.fixture
def easy_dataset(tmp_path) -> Path:
    """train/ and test/ splits of the easy task."""
    write_class_folders(tmp_path / "easy" / "train", n=40, seed=1)
    write_class_folders(tmp_path / "easy" / "test", n=12, seed=2)
    return tmp_path / "easy"
