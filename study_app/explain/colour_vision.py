"""How well a map's colours stay apart under colour-vision deficiency: the measurements behind the choice of
:data:`study_app.explain.colours.DEFAULT_MAP_COLOURS`, checked for every scheme in ``tests/explain/test_colour_vision.py``.
``python -m study_app.explain.colour_vision`` prints the table. Needs ``colour-science`` (the ``test`` extra).

Simulation: each colour as the renderer writes it (sRGB, the overlay blended in encoded sRGB as
:func:`study_app.explain.render.overlay` does) is decoded to linear RGB, multiplied by Machado, Oliveira & Fernandes'
(2009) matrix for protanopia, deuteranopia or tritanopia at severity 1 (``colour.blindness``; colour-science
warns that its tritanomaly matrices approximate tritanopia by a cone shift: the least certain column), clipped
to [0, 1], and compared in CIELAB (D65) with the CIEDE2000 difference ΔE00. ``normal`` is the unsimulated colour.

Thresholds (ΔE00; the smallest value over the four kinds of vision and, for overlays, over black, mid-grey and
white photos). ΔE00 near 1 is just noticeable between large patches side by side; for the small, separated
marks of a visualisation the difference needed to tell colours apart reliably grows several-fold (Stone, Szafir
& Setlur 2014; Szafir 2018), and a participant compares regions of a map that do not touch, at a glance:

* ``CATEGORY`` = 20, for two colours that must never be confused: evidence for against evidence against, and
  the weakest against the strongest step of the unsigned scale;
* ``STEP`` = 10, between adjacent steps of the unsigned scale the legend names (ordered, and each named);
* ``VISIBLE`` = 15, for a colour drawn over the photo at :data:`~study_app.explain.render.OPACITY` against the
  photo left unchanged, and for evidence for against evidence against in the overlay. At opacity 0.6 no colour
  stays more than about 26 from black, grey and white at once under all four kinds of vision (a search of the
  sRGB cube in steps of 0.05: a saturated green), so ``CATEGORY`` is out of reach there; 15 keeps a margin.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import matplotlib
import numpy as np

from study_app.explain.colours import MAP_COLOURS, MapColours
from study_app.explain.render import OPACITY

CATEGORY, STEP, VISIBLE = 20.0, 10.0, 15.0
VISION = ("normal", "protanopia", "deuteranopia", "tritanopia")
MACHADO = {"protanopia": "Protanomaly", "deuteranopia": "Deuteranomaly", "tritanopia": "Tritanomaly"}
BACKGROUNDS = {"black": 0.0, "grey": 0.5, "white": 1.0}
CHECKS = {  # name -> (threshold, what it compares)
    "for_vs_against": (CATEGORY, "signed map: full-strength evidence for against evidence against"),
    "for_vs_against_overlay": (VISIBLE, "signed overlay: evidence for against evidence against over one photo"),
    "signed_overlay": (VISIBLE, "signed overlay: evidence for, and against, each against the photo unchanged"),
    "weak_vs_strong": (CATEGORY, "unsigned scale: its weakest named step against its strongest"),
    "adjacent_steps": (STEP, "unsigned scale: each named step against the next"),
    "strongest_overlay": (VISIBLE, "unsigned overlay: the strongest colour against the photo unchanged"),
}


@dataclass(frozen=True)
class Measurement:
    scheme: str
    check: str
    vision: str
    delta_e: float  # the smallest ΔE00 over the pairs (and backgrounds) the check compares
    where: str  # which pair, on which background, gave it

    @property
    def threshold(self) -> float:
        return CHECKS[self.check][0]

    @property
    def passed(self) -> bool:
        return self.delta_e >= self.threshold


def simulate(srgb: np.ndarray, vision: str) -> np.ndarray:
    """Encoded sRGB colours (…×3, in [0, 1]) as seen with ``vision``, in CIELAB (D65)."""
    import colour  # noqa: PLC0415 - heavy optional dependency (the test extra), only for this measurement

    linear = colour.models.eotf_sRGB(np.asarray(srgb, dtype=np.float64))
    if vision != "normal":
        with warnings.catch_warnings():  # the tritanomaly caveat, stated in the module docstring
            warnings.simplefilter("ignore", colour.utilities.ColourUsageWarning)
            matrix = colour.blindness.matrix_cvd_Machado2009(MACHADO[vision], 1.0)
        linear = np.clip(linear @ matrix.T, 0.0, 1.0)
    xyz = colour.RGB_to_XYZ(linear, colour.RGB_COLOURSPACES["sRGB"], apply_cctf_decoding=False)
    return colour.XYZ_to_Lab(xyz, colour.CCS_ILLUMINANTS["CIE 1931 2 Degree Standard Observer"]["D65"])


def delta_e(a: np.ndarray, b: np.ndarray, vision: str) -> float:
    """CIEDE2000 between two encoded sRGB colours as seen with ``vision``."""
    import colour  # noqa: PLC0415 - heavy optional dependency (the test extra), only for this measurement

    return float(colour.delta_E(simulate(a, vision), simulate(b, vision), method="CIE 2000"))


def _rgb(cmap: str, x: float) -> np.ndarray:
    return np.asarray(matplotlib.colormaps[cmap](float(x))[:3])


def _over(colour_rgb: np.ndarray, grey: float) -> np.ndarray:
    """``colour_rgb`` at full strength drawn at OPACITY over a plain photo of encoded grey level ``grey``."""
    return np.full(3, grey) * (1 - OPACITY) + colour_rgb * OPACITY


def _pairs(s: MapColours, check: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(where, colour, colour)`` for every pair ``check`` compares in scheme ``s``."""
    signed = {side: _rgb(s.signed_cmap, (x + 1) / 2) for side, (x, _) in s.signed_colours.items()}
    scale = [(name, _rgb(s.unsigned_cmap, x)) for x, name in s.unsigned_scale]
    if check == "for_vs_against":
        return [("for/against", signed["for"], signed["against"])]
    if check == "for_vs_against_overlay":
        return [(f"for/against over {bg}", _over(signed["for"], g), _over(signed["against"], g))
                for bg, g in BACKGROUNDS.items()]
    if check == "signed_overlay":
        return [(f"{side} over {bg}", _over(c, g), np.full(3, g)) for side, c in signed.items()
                for bg, g in BACKGROUNDS.items()]
    if check == "weak_vs_strong":
        return [(f"{scale[0][0]}/{scale[-1][0]}", scale[0][1], scale[-1][1])]
    if check == "adjacent_steps":
        return [(f"{a}/{b}", ca, cb) for (a, ca), (b, cb) in zip(scale, scale[1:])]
    name, strongest = scale[-1]
    return [(f"{name} over {bg}", _over(strongest, g), np.full(3, g)) for bg, g in BACKGROUNDS.items()]


def measure(scheme: str, check: str, vision: str) -> Measurement:
    """The smallest ΔE00 of ``check``'s pairs in ``scheme`` as seen with ``vision``."""
    where, value = min(((w, delta_e(a, b, vision)) for w, a, b in _pairs(MAP_COLOURS[scheme], check)),
                       key=lambda item: item[1])
    return Measurement(scheme, check, vision, value, where)


def table() -> list[Measurement]:
    """Every check of every scheme for every kind of vision."""
    return [measure(s, c, v) for s in MAP_COLOURS for c in CHECKS for v in VISION]


def main() -> None:
    print(f"{'scheme':8} {'check':24} {'min ΔE00':>8}  " + "  ".join(f"{v:>12}" for v in VISION))
    rows = table()
    for s in MAP_COLOURS:
        for c, (threshold, _) in CHECKS.items():
            cells = [m for m in rows if m.scheme == s and m.check == c]
            verdict = "pass" if all(m.passed for m in cells) else "FAIL"
            print(f"{s:8} {c:24} {threshold:>8.0f}  " + "  ".join(f"{m.delta_e:>12.1f}" for m in cells)
                  + f"  {verdict}  (weakest: {min(cells, key=lambda m: m.delta_e).where})")


if __name__ == "__main__":
    main()
