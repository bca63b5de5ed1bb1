"""The legend names the colours a map is drawn in: each name must be what the colormap draws at that value, in
every colour scheme a study may pick (the rehearsal's legend named only yellow, while maps showed pink and dark
purple too)."""

from __future__ import annotations

import colorsys

import matplotlib
import pytest

from study_app.explain.colours import MAP_COLOURS
from study_app.ui.explanation_maps import COLOUR_NAMES, MapPicture, picture_colours

HUES = {  # degrees on the colour wheel a name covers (red wraps round 0°)
    "dark purple": (260, 320), "purple": (250, 320), "pink": (320, 360), "orange": (15, 45), "yellow": (45, 70),
    "light green": (80, 150), "turquoise": (160, 195), "blue": (195, 250), "dark blue": (195, 250), "red": (-15, 15),
}
DARK = {"dark purple", "dark blue"}  # value (HSV) below 0.6
LIGHT = {"light green"}  # value above 0.8 and saturation below 0.3


def hsv(cmap: str, x: float) -> tuple[float, float, float]:
    r, g, b, _ = matplotlib.colormaps[cmap](x)
    h, s, v = colorsys.rgb_to_hsv(r, g, b)
    return h * 360, s, v


def assert_named(cmap: str, x: float, name: str) -> None:
    hue, saturation, value = hsv(cmap, x)
    low, high = HUES[name]
    assert low <= hue <= high or low <= hue - 360 <= high, f"{cmap} at {x} has hue {hue:.0f}°, not {name}"
    if name in DARK:
        assert value < 0.6, f"{cmap} at {x} is not dark (value {value:.2f})"
    if name in LIGHT:
        assert value > 0.8 and saturation < 0.3, f"{cmap} at {x} is not light (value {value:.2f})"


UNSIGNED = [(s.name, x, name) for s in MAP_COLOURS.values() for x, name in s.unsigned_scale]
SIGNED = [(s.name, side) for s in MAP_COLOURS.values() for side in ("for", "against")]


@pytest.mark.parametrize("scheme,x,name", UNSIGNED)
def test_each_unsigned_colour_is_named_for_what_the_colormap_draws(scheme, x, name):
    assert_named(MAP_COLOURS[scheme].unsigned_cmap, x, name)


@pytest.mark.parametrize("scheme,side", SIGNED)
def test_each_signed_colour_is_named_for_what_the_colormap_draws(scheme, side):
    x, name = MAP_COLOURS[scheme].signed_colours[side]
    assert_named(MAP_COLOURS[scheme].signed_cmap, (x + 1) / 2, name)  # the renderer maps [-1, 1] onto [0, 1]


def test_every_colour_name_can_be_translated():
    assert set(COLOUR_NAMES) == set().union(*(s.colour_names for s in MAP_COLOURS.values()))


def test_the_names_a_legend_gives_are_those_of_the_scheme_the_maps_were_drawn_in():
    drawn = [MapPicture(label="A", png=b"", alt="", colours="inferno")] * 2
    assert picture_colours(drawn).unsigned_scale[-1][1] == "yellow"
    assert picture_colours([]).name == "gnbu"
    with pytest.raises(ValueError, match="several colour schemes"):
        picture_colours([*drawn, MapPicture(label="B", png=b"", alt="", colours="gnbu")])
