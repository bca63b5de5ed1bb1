"""The colour schemes a map can be drawn in; a study file picks one (``[study] map_colours``), else the default.

Each scheme is a sequential colormap for unsigned maps (evidence for the class, weak to strongest) and a
diverging one for signed maps (for and against), with the names the participant's legend gives its colours
(``tests/explain/test_legend_colours.py`` checks each name against the hue the colormap draws).

Readability under colour-vision deficiency is measured in :mod:`study_app.explain.colour_vision` (checked by
``tests/explain/test_colour_vision.py``): every colour simulated for protanopia, deuteranopia and tritanopia
(Machado et al. 2009, severity 1) and compared with CIEDE2000 against the minimum differences stated there. The
default, ``gnbu``, passes every check: ColorBrewer's GnBu for unsigned maps (light green, turquoise, blue, dark
blue; the strongest evidence is a saturated dark blue that stands out of black, grey and white photos alike) and
``bwr_r`` for signed maps (blue for, red against, as far apart under every simulated deficiency as with normal
vision). ``inferno`` is the first release's scheme (inferno; ``PuOr_r``, orange for and purple against), kept so
that a study begun with it can go on drawing what its participants saw; it fails two checks, both under
tritanopia: its strongest colour, yellow, all but vanishes over white parts of a photo (ΔE00 5), and its dark
purple for evidence against barely shows over black (ΔE00 10).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MapColours:
    """One scheme. ``unsigned_scale``: (value in [0, 1], colour name) from weak to strongest evidence for the
    class, as the legend names them; ``for_colour``/``against_colour``: (value in [-1, 1], name) of a signed
    map's full-strength evidence for and against."""

    name: str
    unsigned_cmap: str
    signed_cmap: str
    unsigned_scale: tuple[tuple[float, str], ...]
    for_colour: tuple[float, str]
    against_colour: tuple[float, str]

    @property
    def signed_colours(self) -> dict[str, tuple[float, str]]:
        return {"for": self.for_colour, "against": self.against_colour}

    @property
    def colour_names(self) -> set[str]:
        return {n for _, n in self.unsigned_scale} | {self.for_colour[1], self.against_colour[1]}


MAP_COLOURS = {
    "gnbu": MapColours(
        name="gnbu", unsigned_cmap="GnBu", signed_cmap="bwr_r",
        unsigned_scale=((0.25, "light green"), (0.5, "turquoise"), (0.75, "blue"), (1.0, "dark blue")),
        for_colour=(1.0, "blue"), against_colour=(-1.0, "red"),
    ),
    "inferno": MapColours(
        name="inferno", unsigned_cmap="inferno", signed_cmap="PuOr_r",
        unsigned_scale=((0.25, "dark purple"), (0.5, "pink"), (0.75, "orange"), (1.0, "yellow")),
        for_colour=(1.0, "orange"), against_colour=(-1.0, "purple"),
    ),
}
DEFAULT_MAP_COLOURS = "gnbu"


def map_colours(name: str | None = None) -> MapColours:
    """The scheme called ``name`` (``None``: the default); an unknown name is a one-line ``ValueError``."""
    key = DEFAULT_MAP_COLOURS if name is None else name
    if key not in MAP_COLOURS:
        raise ValueError(f"{key!r} is not a map colour scheme (available: {', '.join(MAP_COLOURS)})")
    return MAP_COLOURS[key]
