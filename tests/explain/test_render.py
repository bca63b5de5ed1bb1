"""One visual language: normalisation, colour where the map peaks, grayscale and RGB, every mode."""

from __future__ import annotations

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

from study_app.explain.colours import MAP_COLOURS, map_colours
from study_app.explain.render import (
    MODES,
    OPACITY,
    MapDescription,
    normalize_map,
    render_explanation,
)

UNSIGNED_CMAP = map_colours().unsigned_cmap  # the default scheme's
SIGNED_CMAP = map_colours().signed_cmap


def decode(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)


def cmap_rgb(name: str, value: float) -> np.ndarray:
    return np.round(np.asarray(matplotlib.colormaps[name](value)[:3]) * 255).astype(np.int16)


@pytest.fixture
def peak_map() -> np.ndarray:
    """A 40×40 map: a strong block in the upper left, a weak one lower right, negatives bottom left."""
    m = np.zeros((40, 40), dtype=np.float32)
    m[4:12, 4:12] = 10.0
    m[30:36, 30:36] = 2.0
    m[30:36, 2:8] = -10.0
    return m


@pytest.fixture(params=["RGB", "L"])
def photo(request) -> Image.Image:
    rng = np.random.default_rng(0)
    if request.param == "L":  # grayscale MRI-like
        return Image.fromarray(rng.integers(40, 200, (40, 40), dtype=np.uint8), mode="L")
    return Image.fromarray(rng.integers(40, 200, (40, 40, 3), dtype=np.uint8), mode="RGB")


def test_normalisation_is_scale_invariant_and_documented():
    m = np.array([[0.0, 1.0, 2.0, -5.0]] * 25)
    n = normalize_map(m)
    assert n.min() == 0.0 and n.max() == 1.0  # negatives dropped, peak at 1
    np.testing.assert_allclose(normalize_map(m * 1e-6), n)
    s = normalize_map(m, signed=True)
    assert s.min() == -1.0 and 0 < s.max() < 1 and s[0, 0] == 0.0
    assert not normalize_map(np.zeros((4, 4))).any()
    assert not normalize_map(-np.ones((4, 4))).any()


def test_percentile_clipping_keeps_one_hot_pixel_from_washing_out_the_rest():
    m = np.ones((20, 20))
    m[0, 0] = 1000.0
    assert normalize_map(m)[5, 5] == 1.0


def test_map_mode_puts_the_top_colour_where_the_map_peaks(photo, peak_map):
    rendered = render_explanation(photo, peak_map, mode="map")
    pixels = decode(rendered.png)
    assert pixels.shape == (40, 40, 3)
    np.testing.assert_array_equal(pixels[8, 8], cmap_rgb(UNSIGNED_CMAP, 1.0))
    np.testing.assert_array_equal(pixels[20, 20], cmap_rgb(UNSIGNED_CMAP, 0.0))
    colour = np.abs(pixels - cmap_rgb(UNSIGNED_CMAP, 0.0)).sum(axis=2)  # how far from "no evidence"
    assert np.unravel_index(colour.argmax(), colour.shape)[0] < 12  # strongest colour in the peak block


def test_overlay_tints_the_peak_and_leaves_evidence_free_pixels_untouched(photo, peak_map):
    original = np.asarray(photo.convert("RGB"), dtype=np.int16)
    pixels = decode(render_explanation(photo, peak_map, mode="overlay").png)
    np.testing.assert_array_equal(pixels[20, 20], original[20, 20])  # no evidence: the photo itself
    np.testing.assert_array_equal(pixels[33, 4], original[33, 4])  # negative evidence hidden when unsigned
    expected = np.round(original[8, 8] * (1 - OPACITY) + cmap_rgb(UNSIGNED_CMAP, 1.0) * OPACITY)
    np.testing.assert_allclose(pixels[8, 8], expected, atol=1)
    change = np.abs(pixels - original).sum(axis=2)
    assert change[4:12, 4:12].mean() > change[30:36, 30:36].mean() > 0  # stronger evidence, stronger tint


def test_signed_overlay_shows_evidence_against_in_the_other_colour(photo, peak_map):
    pixels = decode(render_explanation(photo, peak_map, mode="map", signed=True).png)
    np.testing.assert_array_equal(pixels[8, 8], cmap_rgb(SIGNED_CMAP, 1.0))
    np.testing.assert_array_equal(pixels[33, 4], cmap_rgb(SIGNED_CMAP, 0.0))
    np.testing.assert_array_equal(pixels[20, 20], cmap_rgb(SIGNED_CMAP, 0.5))


def test_every_mode_renders_at_the_display_size(photo, peak_map):
    sizes = {mode: Image.open(io.BytesIO(render_explanation(photo, peak_map, mode=mode).png)).size for mode in MODES}
    assert sizes["overlay"] == sizes["map"] == sizes["contour"] == (40, 40)
    assert sizes["side_by_side"][0] > 80 and sizes["side_by_side"][1] == 40


def test_contour_outlines_the_strong_region_only(photo, peak_map):
    original = np.asarray(photo.convert("RGB"), dtype=np.int16)
    pixels = decode(render_explanation(photo, peak_map, mode="contour").png)
    changed = np.abs(pixels - original).sum(axis=2) > 0
    assert changed[2:14, 2:14].any()  # around the peak block
    assert not changed[28:38, 28:38].any()  # weak block is below half the peak
    assert not changed[18:24, 18:24].any()


def test_map_of_another_size_is_resized_to_the_picture(photo):
    small = np.zeros((10, 10))
    small[0:3, 0:3] = 1.0
    pixels = decode(render_explanation(photo, small, mode="map").png)
    np.testing.assert_array_equal(pixels[2, 2], cmap_rgb(UNSIGNED_CMAP, 1.0))
    np.testing.assert_array_equal(pixels[35, 35], cmap_rgb(UNSIGNED_CMAP, 0.0))


def test_a_map_at_input_size_lies_smoothly_over_the_region_it_explains_on_a_larger_picture():
    """A 32 px map over a 96 px picture (the region the model saw, at display resolution): the tint sits on
    the block the map marks, scaled three times, and fades in smoothly (bilinear) rather than in 3 px steps."""
    photo = Image.new("RGB", (96, 96), (128, 128, 128))
    small = np.zeros((32, 32), dtype=np.float32)
    small[4:8, 20:24] = 1.0  # model pixels: rows 4-7, columns 20-23
    pixels = decode(render_explanation(photo, small, mode="map").png)
    weight = np.abs(pixels - cmap_rgb(UNSIGNED_CMAP, 0.0)).sum(axis=2)  # how far from "no evidence"
    rows, cols = np.nonzero(weight > 0)
    assert abs(np.average(rows, weights=weight[rows, cols]) - 6 * 3 + 0.5) < 0.5  # centre row 6 of 32 → 17.5
    assert abs(np.average(cols, weights=weight[rows, cols]) - 22 * 3 + 0.5) < 0.5  # centre column 22 → 65.5
    assert weight[12:24, 60:72].min() > 0 and weight[:9].max() == 0 and weight[27:].max() == 0
    edge = weight[18, 54:66]  # across the block's left edge: a ramp (nearest-neighbour would jump 0 → peak)
    assert len({v for v in edge.tolist() if 0 < v < edge.max()}) >= 2


def test_the_alt_text_does_not_depend_on_the_size_a_map_is_shown_at(peak_map):
    texts = {render_explanation(Image.new("RGB", (side, side)), peak_map, method_label="LIME").alt_text
             for side in (40, 96, 360)}
    assert len(texts) == 1


def test_alt_text_says_where_the_map_is_strongest(photo, peak_map):
    text = render_explanation(photo, peak_map, method_label="LIME").alt_text
    assert text.startswith("LIME map: strongest evidence in the upper left")
    assert "Some regions count against" not in text
    assert "count against" in render_explanation(photo, peak_map, signed=True).alt_text
    assert "no region supports" in render_explanation(photo, np.zeros((40, 40))).alt_text


def test_the_description_is_the_alt_text_as_data(photo, peak_map):
    """The participant's page words the description in the study's language: it must say what the English
    alt text says (8x8 strong block of 40x40 = 4 % of the image, upper left)."""
    rendered = render_explanation(photo, peak_map, signed=True, method_label="LIME")
    assert rendered.description == MapDescription(region="upper left", share=4, against=True, signed=True)
    assert "upper left" in rendered.alt_text and "about 4%" in rendered.alt_text
    empty = render_explanation(photo, np.zeros((40, 40)))
    assert empty.description == MapDescription(region=None, share=0, against=False)


def test_bad_arguments_fail_clearly(photo, peak_map):
    with pytest.raises(ValueError, match="unknown render mode 'heatmap'"):
        render_explanation(photo, peak_map, mode="heatmap")
    with pytest.raises(ValueError, match="NaN"):
        render_explanation(photo, np.full((40, 40), np.nan))
    with pytest.raises(ValueError, match="2-D"):
        render_explanation(photo, np.zeros((3, 40, 40)))
    with pytest.raises(TypeError, match="PIL image"):
        render_explanation(np.zeros((40, 40, 3)), peak_map)


@pytest.mark.parametrize("scheme", sorted(MAP_COLOURS))
def test_each_colour_scheme_draws_its_own_colormaps_and_says_which(photo, peak_map, scheme):
    colours = MAP_COLOURS[scheme]
    unsigned = render_explanation(photo, peak_map, mode="map", colours=scheme)
    assert unsigned.colours == scheme
    np.testing.assert_array_equal(decode(unsigned.png)[8, 8], cmap_rgb(colours.unsigned_cmap, 1.0))
    signed = decode(render_explanation(photo, peak_map, mode="map", signed=True, colours=scheme).png)
    np.testing.assert_array_equal(signed[33, 4], cmap_rgb(colours.signed_cmap, 0.0))


def test_maps_are_drawn_in_gnbu_by_default_and_an_unknown_scheme_is_named():
    assert render_explanation(Image.new("RGB", (8, 8)), np.ones((8, 8))).colours == "gnbu"
    with pytest.raises(ValueError, match="'viridis' is not a map colour scheme .available: gnbu, inferno"):
        render_explanation(Image.new("RGB", (8, 8)), np.ones((8, 8)), colours="viridis")
