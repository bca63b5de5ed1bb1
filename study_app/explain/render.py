"""One visual language for every method: same normalisation, colormap, opacity and size.

The seed study showed LIME as a green highlight, SHAP as a red/blue grid and Anchors as a blacked-out
image, so participants compared pictures rather than methods. Here every map goes through
:func:`normalize_map` and the same colormap, drawn at the display image's size.

Sizes: a map is normalised at its own resolution (the model input's), then resampled bilinearly onto the
display image (:func:`trainers.predict.display_image`: the region the model saw, at display resolution), so
the photo stays sharp, the map smooth, and neither the normalisation nor the alt text depends on the size a
map is shown at.

Normalisation (documented because the study's results depend on it):

* unsigned (default): negative values are dropped (only evidence *for* the class is shown), the map is
  divided by its 99th percentile of the positive values and clipped to [0, 1]; the percentile stops
  one extreme pixel from washing out the rest;
* signed: divided by the 99th percentile of ``|map|`` and clipped to [-1, 1], so 0 stays neutral.

Colours: a sequential colormap for unsigned maps and a diverging one for signed maps, from the scheme a study
picks (:mod:`study_app.explain.colours`: the default ``gnbu``, GnBu and blue-for/red-against, measured readable
under simulated protanopia, deuteranopia and tritanopia). The colours are applied when a map is drawn, never
stored: the attribution cache holds the float maps, so a scheme changes no cache entry or key. In overlays the
colour's opacity is ``OPACITY × |value|``, so regions without evidence show the photo unchanged — on RGB photos
and on grayscale MRI alike.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import matplotlib
import numpy as np
from PIL import Image, ImageDraw
from skimage.measure import find_contours

from study_app.explain.colours import DEFAULT_MAP_COLOURS, MapColours, map_colours

OPACITY = 0.6
CLIP_PERCENTILE = 99.0
CONTOUR_LEVEL = 0.5  # contour mode outlines where the normalised map reaches half its (clipped) peak
MODES = ("overlay", "map", "side_by_side", "contour")
GAP_PX = 8  # white gap between the two panels of side_by_side


@dataclass(frozen=True)
class MapDescription:
    """What a map's alt text says, as data, so the participant's page can say it in the study's language:
    where the strongest evidence lies (``region``, one of :data:`REGIONS`' names; ``None`` when no region
    supports the class), how much of the image it covers (``share``, whole percent), whether some
    regions count against the class (``against``) and whether the map was drawn signed (``signed``: evidence
    against in the scheme's ``against_colour``; else only evidence for, in its ``unsigned_scale``)."""

    region: str | None
    share: int
    against: bool
    signed: bool = False


@dataclass(frozen=True)
class Rendered:
    """A rendered explanation: PNG bytes, a one-sentence English alt text for screen readers (the
    researcher's pages) and the same as data (``description``: the participant's page words it)."""

    png: bytes
    alt_text: str
    size: tuple[int, int]
    description: MapDescription
    colours: str = DEFAULT_MAP_COLOURS  # the scheme it was drawn in (study_app.explain.colours)


def normalize_map(map_hw: np.ndarray, signed: bool = False) -> np.ndarray:
    """Scale a raw attribution map to [0, 1] (unsigned) or [-1, 1] (signed); see module docstring.

    An all-zero (or all-negative, when unsigned) map stays zero rather than dividing by zero.
    """
    m = np.asarray(map_hw, dtype=np.float64)
    if m.ndim != 2:
        raise ValueError(f"map must be 2-D (H×W), got shape {m.shape}")
    if not np.isfinite(m).all():
        raise ValueError("map contains NaN or infinite values")
    if signed:
        scale = np.percentile(np.abs(m), CLIP_PERCENTILE)
        scale = scale if scale > 0 else np.abs(m).max()
        return np.clip(m / scale, -1.0, 1.0) if scale > 0 else np.zeros_like(m)
    pos = np.clip(m, 0.0, None)
    positive = pos[pos > 0]
    if positive.size == 0:
        return np.zeros_like(m)
    scale = np.percentile(positive, CLIP_PERCENTILE)
    return np.clip(pos / scale, 0.0, 1.0)


def _colorize(norm: np.ndarray, signed: bool, colours: MapColours) -> np.ndarray:
    """H×W normalised map to H×W×3 float RGB in [0, 1]."""
    cmap = matplotlib.colormaps[colours.signed_cmap if signed else colours.unsigned_cmap]
    values = (norm + 1.0) / 2.0 if signed else norm
    return cmap(values)[..., :3]


def _resize_map(map_hw: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if map_hw.shape[::-1] == size:
        return np.asarray(map_hw, dtype=np.float64)
    img = Image.fromarray(np.asarray(map_hw, dtype=np.float32), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.BILINEAR), dtype=np.float64)


def overlay(photo: np.ndarray, norm: np.ndarray, signed: bool, colours: MapColours) -> np.ndarray:
    """``norm`` drawn over ``photo`` (H×W×3 float RGB in [0, 1]) with opacity ``OPACITY × |value|``."""
    alpha = (OPACITY * np.abs(norm))[..., None]
    return photo * (1 - alpha) + _colorize(norm, signed, colours) * alpha


def _contour(photo: np.ndarray, norm: np.ndarray, signed: bool, colours: MapColours) -> Image.Image:
    base = Image.fromarray(_to_uint8(photo))
    draw = ImageDraw.Draw(base)
    width = max(1, round(max(base.size) / 150))
    levels = [(CONTOUR_LEVEL, 1.0)] + ([(-CONTOUR_LEVEL, -1.0)] if signed else [])
    padded = np.pad(norm, 1, constant_values=0.0)  # closes contours that touch the border
    for level, colour_at in levels:
        field = padded if level > 0 else -padded
        colour = tuple(int(c * 255) for c in _colorize(np.array([[colour_at]]), signed, colours)[0, 0])
        for path in find_contours(field, abs(level)):
            points = [(float(c) - 1, float(r) - 1) for r, c in path]
            if len(points) > 1:
                draw.line(points, fill=colour, width=width, joint="curve")
    return base


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    return np.clip(np.round(arr * 255.0), 0, 255).astype(np.uint8)


REGIONS = (
    ("upper left", "top", "upper right"),
    ("left", "centre", "right"),
    ("lower left", "bottom", "lower right"),
)


def map_description(norm: np.ndarray, signed: bool = False) -> MapDescription:
    """Where a normalised map's strongest evidence lies and how much of the image it covers."""
    strength = np.clip(norm, 0, None)
    against = bool((norm <= -CONTOUR_LEVEL).any())
    if strength.max() <= 0:
        return MapDescription(region=None, share=0, against=against, signed=signed)
    strong = strength >= CONTOUR_LEVEL
    rows, cols = np.nonzero(strong)
    weights = strength[strong]
    r = float(np.average(rows, weights=weights)) / norm.shape[0]
    c = float(np.average(cols, weights=weights)) / norm.shape[1]
    return MapDescription(region=REGIONS[min(2, int(r * 3))][min(2, int(c * 3))],
                          share=round(100.0 * float(strong.mean())), against=against, signed=signed)


def english_alt(d: MapDescription, method_label: str | None) -> str:
    """A short English alt text from a map's description (the researcher's pages; the participant's page
    words the same description in the study's language)."""
    label = f"{method_label} map" if method_label else "Explanation map"
    if d.region is None:
        return f"{label}: no region supports the predicted class."
    text = f"{label}: strongest evidence in the {d.region} of the image, covering about {d.share}% of it."
    if d.against:
        text += " Some regions count against the class."
    return text


def render_explanation(
    image: Image.Image,
    map_hw: np.ndarray,
    mode: str = "overlay",
    signed: bool = False,
    method_label: str | None = None,
    colours: str = DEFAULT_MAP_COLOURS,
) -> Rendered:
    """Draw ``map_hw`` over (or beside) ``image`` in the study's single visual language.

    Args:
        image: the display image (:func:`trainers.predict.display_image`), RGB or grayscale.
        map_hw: raw attribution map (at the model input's size); normalised, then resized bilinearly to the
            image if sizes differ.
        mode: ``overlay`` (colour over the photo), ``map`` (colour map alone), ``side_by_side``
            (photo | map) or ``contour`` (photo with an outline where the map reaches half its peak).
        signed: show negative evidence too, with the diverging colormap.
        method_label: name used in the alt text (e.g. "LIME").
        colours: the colour scheme's name (:data:`study_app.explain.colours.MAP_COLOURS`).

    Returns:
        :class:`Rendered` with PNG bytes and alt text.
    """
    if mode not in MODES:
        raise ValueError(f"unknown render mode {mode!r}; choose one of {', '.join(MODES)}")
    if not isinstance(image, Image.Image):
        raise TypeError(f"image must be a PIL image, not {type(image).__name__}")
    raw = np.asarray(map_hw)
    if raw.ndim != 2:
        raise ValueError(f"map must be 2-D (H×W), got shape {raw.shape}")
    if not np.isfinite(raw).all():
        raise ValueError("map contains NaN or infinite values")
    scheme = map_colours(colours)
    photo = np.asarray(image.convert("RGB"), dtype=np.float64) / 255.0
    normalized = normalize_map(raw, signed=signed)
    norm = _resize_map(normalized, image.size)
    if mode == "overlay":
        out = Image.fromarray(_to_uint8(overlay(photo, norm, signed, scheme)))
    elif mode == "map":
        out = Image.fromarray(_to_uint8(_colorize(norm, signed, scheme)))
    elif mode == "contour":
        out = _contour(photo, norm, signed, scheme)
    else:
        w, h = image.size
        out = Image.new("RGB", (2 * w + GAP_PX, h), (255, 255, 255))
        out.paste(Image.fromarray(_to_uint8(photo)), (0, 0))
        out.paste(Image.fromarray(_to_uint8(_colorize(norm, signed, scheme))), (w + GAP_PX, 0))
    buf = io.BytesIO()
    out.save(buf, format="PNG", optimize=False)
    description = map_description(normalized, signed)
    return Rendered(png=buf.getvalue(), alt_text=english_alt(description, method_label), size=out.size,
                    description=description, colours=scheme.name)
