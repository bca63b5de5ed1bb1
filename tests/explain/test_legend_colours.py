"""The legend names the colours a map is drawn in: each name must be what the colormap draws at that value (the
rehearsal's legend named only yellow, while maps showed pink and dark purple too)."""

from __future__ import annotations

import colorsys

import matplotlib
import pytest

from study_app.explain.render import SIGNED_CMAP, SIGNED_COLOURS, UNSIGNED_CMAP, UNSIGNED_SCALE
from study_app.ui.explanation_maps import COLOUR_NAMES

HUES = {  # degrees on the colour wheel a name covers
    "dark purple": (260, 320), "purple": (250, 320), "pink": (320, 360), "orange": (15, 45), "yellow": (45, 70),
}


def hue_and_value(cmap: str, x: float) -> tuple[float, float]:
    r, g, b, _ = matplotlib.colormaps[cmap](x)
    h, _, v = colorsys.rgb_to_hsv(r, g, b)
    return h * 360, v


@pytest.mark.parametrize("x,name", UNSIGNED_SCALE)
def test_each_unsigned_colour_is_named_for_what_the_colormap_draws(x, name):
    hue, value = hue_and_value(UNSIGNED_CMAP, x)
    low, high = HUES[name]
    assert low <= hue <= high, f"{UNSIGNED_CMAP} at {x} has hue {hue:.0f}°, not {name}"
    if name == "dark purple":
        assert value < 0.5, "dark"


@pytest.mark.parametrize("side", ["for", "against"])
def test_each_signed_colour_is_named_for_what_the_colormap_draws(side):
    x, name = SIGNED_COLOURS[side]
    hue, _ = hue_and_value(SIGNED_CMAP, (x + 1) / 2)  # the renderer maps [-1, 1] onto the colormap's [0, 1]
    low, high = HUES[name]
    assert low <= hue <= high, f"{SIGNED_CMAP} at {x} has hue {hue:.0f}°, not {name}"


def test_every_colour_name_can_be_translated():
    assert set(COLOUR_NAMES) == {n for _, n in UNSIGNED_SCALE} | {n for _, n in SIGNED_COLOURS.values()}
