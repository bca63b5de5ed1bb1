"""Maps readable under colour-vision deficiency (issue 27): every colour a map is drawn in, simulated for
protanopia, deuteranopia and tritanopia (Machado et al. 2009, severity 1), differs by at least the CIEDE2000
thresholds stated and justified in :mod:`study_app.explain.colour_vision` (``CATEGORY`` 20, ``STEP`` 10,
``VISIBLE`` 15) in the default scheme. The first release's scheme (``inferno``) fails two checks; it stays
selectable for studies begun with it, and this file keeps its failures on record."""

from __future__ import annotations

import numpy as np
import pytest

from study_app.explain import colour_vision as cv
from study_app.explain.colours import DEFAULT_MAP_COLOURS, MAP_COLOURS, MapColours

pytest.importorskip("colour", reason="colour-science (the test extra) simulates colour-vision deficiency")

# What the first release's default cannot pass, and why (the measured values are in the report and the README).
INFERNO_FAILS = {
    "strongest_overlay": "yellow at opacity 0.6 over white is ΔE00 ≈ 5 from white under tritanopia",
    "signed_overlay": "PuOr's dark purple at opacity 0.6 over black is ΔE00 ≈ 10 from black under tritanopia",
}


def test_the_simulation_reproduces_known_values():
    """CIEDE2000 of black and white is 100, of sRGB red and blue 52.9; protanopia takes
    the red out of red, deuteranopia keeps blue blue, and a grey stays grey (the matrices keep the white point)."""
    black, white, red, blue = np.zeros(3), np.ones(3), np.array([1.0, 0, 0]), np.array([0, 0, 1.0])
    assert cv.delta_e(black, white, "normal") == pytest.approx(100.0, abs=0.01)
    assert cv.delta_e(red, blue, "normal") == pytest.approx(52.88, abs=0.05)
    red_a = cv.simulate(red, "normal")[1]
    assert abs(cv.simulate(red, "protanopia")[1]) < red_a / 3  # a* (red-green) mostly gone
    assert cv.delta_e(blue, blue, "deuteranopia") == 0.0
    assert cv.delta_e(np.full(3, 0.5), np.full(3, 0.5), "tritanopia") == 0.0
    for vision in cv.VISION:
        assert np.abs(cv.simulate(np.full(3, 0.5), vision)[1:]).max() < 0.5  # a*, b* of a grey stay near 0


@pytest.mark.parametrize("check", sorted(cv.CHECKS))
def test_the_default_scheme_keeps_its_colours_apart_under_every_deficiency(check):
    failures = [m for m in (cv.measure(DEFAULT_MAP_COLOURS, check, v) for v in cv.VISION) if not m.passed]
    assert not failures, "; ".join(f"{m.vision}: {m.where} ΔE00 {m.delta_e:.1f} < {m.threshold:.0f}"
                                   for m in failures)


@pytest.mark.parametrize("check", sorted(cv.CHECKS))
def test_the_first_releases_scheme_fails_exactly_the_checks_on_record(check):
    measured = [cv.measure("inferno", check, v) for v in cv.VISION]
    assert all(m.passed for m in measured) == (check not in INFERNO_FAILS), [
        (m.vision, m.where, round(m.delta_e, 1)) for m in measured]


def test_every_selectable_scheme_is_measured_and_every_failure_is_on_record():
    failing = {(m.scheme, m.check) for m in cv.table() if not m.passed}
    assert failing == {("inferno", check) for check in INFERNO_FAILS}
    assert set(MAP_COLOURS) == {"gnbu", "inferno"}  # a new scheme: add its failures here, or none


def test_a_red_green_scheme_fails_under_deuteranopia():
    """The checks can fail: red and green, the classic pair, fall together under deuteranopia."""
    red_green = MapColours(name="red_green", unsigned_cmap="GnBu", signed_cmap="RdYlGn",
                           unsigned_scale=((0.25, "light green"), (0.5, "turquoise"), (0.75, "blue"), (1.0, "dark blue")),
                           for_colour=(1.0, "green"), against_colour=(-1.0, "red"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cv, "MAP_COLOURS", {**MAP_COLOURS, "red_green": red_green})
        assert cv.measure("red_green", "for_vs_against", "normal").passed
        assert not cv.measure("red_green", "for_vs_against", "deuteranopia").passed
