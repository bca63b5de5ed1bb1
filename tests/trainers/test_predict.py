"""The picture a participant sees: the region the model sees, cut from the original at display resolution."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from torchvision.transforms import v2 as T

from trainers.predict import DISPLAY_PX, display_image, display_side, model_crop_box

INPUT = 128


def textured(width: int, height: int, seed: int = 0) -> Image.Image:
    """A smooth random colour field: any shift or scale of the crop changes the pixels a lot."""
    coarse = np.random.default_rng(seed).integers(0, 256, (12, 12, 3), dtype=np.uint8)
    return Image.fromarray(coarse).resize((width, height), Image.Resampling.BICUBIC)


def model_view(image: Image.Image, input_size: int = INPUT) -> np.ndarray:
    """What :func:`trainers.predict.eval_transform` feeds the model, before normalisation, as H×W×3 floats."""
    crop = T.Compose([T.ToImage(), T.Resize(input_size, antialias=True), T.CenterCrop(input_size)])
    return crop(image).permute(1, 2, 0).numpy().astype(np.float64)


def to_input_size(picture: Image.Image, input_size: int = INPUT) -> np.ndarray:
    return np.asarray(picture.resize((input_size, input_size), Image.Resampling.BILINEAR), dtype=np.float64)


def test_a_large_original_is_shown_at_display_size_not_upscaled_from_the_model_input():
    shown = display_image(textured(1000, 700), INPUT)
    assert shown.size == (DISPLAY_PX, DISPLAY_PX)
    assert DISPLAY_PX > INPUT


@pytest.mark.parametrize(("size", "side"), [
    ((1000, 700), DISPLAY_PX),  # large: the display size
    ((300, 209), 209),  # smaller than the display size: the original's own pixels, never upscaled
    ((256, 384), 256),
    ((100, 80), INPUT),  # smaller than the model input: as large as the model input (as the model sees it)
])
def test_the_shown_side_is_the_display_size_at_most_the_original_and_at_least_the_model_input(size, side):
    assert display_side(size, INPUT) == side
    assert display_image(textured(*size), INPUT).size == (side, side)


@pytest.mark.parametrize("size", [(341, 256), (256, 384), (300, 209), (1000, 700), (700, 1001), (257, 196),
                                  (129, 500), (100, 80)])
def test_the_shown_picture_is_the_region_the_model_sees(size):
    """Brought down to the input size, the shown picture is the model's input (up to resampling noise of
    well under one grey level on average); the same crop three model pixels off differs by a dozen and more."""
    image = textured(*size, seed=sum(size))
    shown = display_image(image, INPUT)
    assert shown.size[0] == max(INPUT, min(DISPLAY_PX, min(size)))
    model = model_view(image)
    assert np.abs(to_input_size(shown) - model).mean() < 1.0
    assert np.abs(np.roll(to_input_size(shown), 3, axis=1) - model).mean() > 8.0


def test_the_crop_box_follows_torchvisions_resize_and_centre_crop():
    # 341×256 to a 128 shorter side: 170×128 (truncated), the crop starts at round(21.0) = 21 resized pixels
    left, top, right, bottom = model_crop_box((341, 256), INPUT)
    assert (top, bottom) == (0.0, 256.0)
    assert left == pytest.approx(21 * 341 / 170) and right == pytest.approx(149 * 341 / 170)
    assert model_crop_box((256, 256), INPUT) == (0.0, 0.0, 256.0, 256.0)
    # a square original at twice the input: the picture is the original itself, pixel for pixel
    square = textured(256, 256)
    assert np.array_equal(np.asarray(display_image(square, INPUT)), np.asarray(square))
