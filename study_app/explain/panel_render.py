"""Pictures of the explanation kinds that are not maps ("panels"): similar examples, the prediction grid, concepts.

One PNG per panel, in the study's language (the few words drawn into it go through the ``gettext`` a caller
passes) and with the task's class wording. The picture is made to be read on a 360 px wide phone, where the page
shows it at the column's width: :data:`WIDTH_IN` × :data:`DPI` = 810 px wide, every text at :data:`FONT_PT`
(3.1 % of the width, 11 px on such a phone), black on white in DejaVu Sans (German umlauts and ß), at most
:data:`MAX_COLUMNS` photos in a row (more photos wrap to further rows: with more columns the captions no longer fit
at that size), so a panel is about as tall as it is wide, taller with more rows.

* similar examples: each photo at the region the model sees (:func:`trainers.predict.model_crop_box`, as
  :func:`trainers.predict.display_image` shows it; a centred square when the record names no input size),
  captioned "Labelled: <class>" and "Model: <class> (92 %)". A photo labelled otherwise than the class the panel
  explains has a thick dashed dark frame (the others a thin solid grey one): the difference does not rest on
  colour.
* prediction grid: one row per class the model predicts, in the record's ``groups`` order, headed "Model says:
  <class>"; its photos with their label and the model's confidence, the same dashed frame on a photo labelled
  otherwise than the row's class; a class the model predicts for no pool photo says "none in the pool".
* concepts: one bar per concept, highest score first: the two exemplar photos, the concept's name (its folder's
  name, ``_`` as spaces; the researcher's words, not translated) with its TCAV score as a percentage of the
  class's photos, the bar on a 0–100 % scale with a dashed line at 50 % (chance). A bar that is not significant
  is light and hatched and says "not significant"; a significant one is solid dark: told apart without colour.
  No title: the page shows the method's label above the panel.

The bytes are deterministic for the same input (no PNG metadata, no timestamps), so a recorded hash can be
checked. :class:`PanelDescription` is the alt text as data (names and numbers, no words), which the participant's
page words in the study's language (:mod:`study_app.explain.panel_words`); ``alt_text`` is the English sentence.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib import patheffects
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle
from matplotlib.textpath import TextToPath
from PIL import Image

from study_app.explain.panel_words import english_alt
from study_app.i18n import N_
from trainers.images import open_rgb
from trainers.predict import model_crop_box

KINDS = ("similar_examples", "prediction_grid", "concepts")
WIDTH_IN, DPI = 7.2, 112.5  # 810 px: sharp at a desktop column's width, and at a phone's with 2x pixels
PALETTE = 256  # colours of the PNG (fast octree, dithered): a 4-photo panel is about 120 KiB instead of 430 KiB in RGB
FONT_PT = 16.0            # 16 pt / (7.2 in × 72 pt) = 3.1 % of the width
LINE_IN = FONT_PT * 1.3 / 72
PAD_IN = 0.12
MAX_COLUMNS = 3
MAX_THUMB_IN = 2.3        # photos no larger than this (a panel of two photos stays compact)
CONCEPT_THUMB_IN = 0.95
BAR_IN = 0.34
CHANCE_LINE = {"color": "black", "linestyle": (0, (4, 3)), "linewidth": 2.5,  # white-edged: seen on dark bars
               "path_effects": [patheffects.withStroke(linewidth=5.5, foreground="white")]}
FONT = {"family": "DejaVu Sans", "size": FONT_PT, "color": "black"}
AGREE_FRAME = {"edgecolor": "#9a9a9a", "linewidth": 1.5, "linestyle": "solid"}
DISAGREE_FRAME = {"edgecolor": "#111111", "linewidth": 5.0, "linestyle": (0, (3, 2))}
SIGNIFICANT_BAR = {"facecolor": "#303030", "edgecolor": "#000000", "linewidth": 1.0}
NOT_SIGNIFICANT_BAR = {"facecolor": "#e6e6e6", "edgecolor": "#3c3c3c", "linewidth": 1.0, "hatch": "///"}

# The words drawn into the pictures (translated with the ``gettext`` the caller passes).
LABELLED = N_("Labelled: {label}")
MODEL_SAYS_SHORT = N_("Model: {label} ({percent}%)")
MODEL_SAYS = N_("Model says: {label}")
CONFIDENCE = N_("Confidence: {percent}%")
NONE_IN_POOL = N_("none in the pool")
CONCEPT_SCORE = N_("{name}: {percent}% of the images")
CONCEPT_NOT_SIGNIFICANT = N_("{name}: {percent}% of the images, not significant")
CHANCE = N_("chance")
SCALE = N_("Share of the class's images (%)")


@dataclass(frozen=True)
class PanelDescription:
    """What a panel's alt text says, as data (names and numbers only; the page words it in the study's
    language). ``explained``: the class name the panel explains; ``count``: photos (examples, grid) or concepts
    shown; ``agreeing``: similar examples labelled ``explained`` (else ``None``); ``labels``: (true label, photos)
    in first-seen order; ``groups``: the grid's (predicted class, photos shown) in the model's order;
    ``concepts``: (name, score, significant), highest score first. ``signed`` and ``region`` are the maps'
    fields, always ``False`` and ``None`` here."""

    kind: str
    explained: str | None
    count: int
    agreeing: int | None
    labels: tuple[tuple[str, int], ...]
    groups: tuple[tuple[str, int], ...]
    concepts: tuple[tuple[str, float, bool], ...]
    signed: bool = False
    region: None = None


@dataclass(frozen=True)
class RenderedPanel:
    png: bytes
    description: PanelDescription
    alt_text: str  # English (the researcher's gallery); the participant's page words ``description``


def concept_name(folder: str) -> str:
    """A concept as the panel names it: its folder's name with ``_`` as spaces."""
    return " ".join(folder.replace("_", " ").split())


def _percent(share: float) -> int:
    return int(f"{share:.0%}"[:-1])  # rounds as Python's {:.0%} does (i18n.Translator.percent)


def _counts(names) -> tuple[tuple[str, int], ...]:
    counts: dict[str, int] = {}
    for name in names:
        counts[name] = counts.get(name, 0) + 1
    return tuple(counts.items())


def panel_description(result, explained: str | None) -> PanelDescription:
    """The description of ``result`` (an ``ExampleResult`` or a ``ConceptResult``) explaining ``explained``."""
    kind = result.kind
    if kind == "concepts":
        ranked = sorted(result.concepts, key=lambda c: (-c.score, c.name))
        return PanelDescription(kind, explained or result.target, len(ranked), None, (), (),
                                tuple((concept_name(c.name), float(c.score), bool(c.significant)) for c in ranked))
    if kind not in KINDS:
        raise ValueError(f"unknown explanation kind {kind!r}; choose one of {', '.join(KINDS)}")
    examples = result.examples
    labels = _counts(e.label for e in examples)
    if kind == "similar_examples":
        if explained is None:
            explained = (result.record.get("shown_prediction") or {}).get("label")
        agreeing = None if explained is None else sum(e.label == explained for e in examples)
        return PanelDescription(kind, explained, len(examples), agreeing, labels, (), ())
    groups = tuple((cls, len(rels)) for cls, rels in result.record["groups"].items())
    return PanelDescription(kind, explained, len(examples), None, labels, groups, ())


# --- drawing ---------------------------------------------------------------------------------------------------

class _Canvas:
    """Drawing operations in inches from the top left, laid out before the figure's height is known."""

    def __init__(self):
        self.ops: list[tuple] = []
        self.height = 0.0

    def text(self, x: float, top: float, text: str, **kw) -> None:
        self.ops.append(("text", x, top, text, kw))

    def photo(self, x: float, top: float, side: float, path: str, input_size: int | None, frame: dict) -> None:
        self.ops.append(("photo", x, top, side, path, input_size, frame))

    def rect(self, x: float, top: float, w: float, h: float, style: dict) -> None:
        self.ops.append(("rect", x, top, w, h, style))

    def line(self, x: float, top: float, bottom: float, style: dict) -> None:
        self.ops.append(("line", x, top, bottom, style))

    def png(self) -> bytes:
        height = max(self.height, 1.0)
        fig = Figure(figsize=(WIDTH_IN, height), dpi=DPI, facecolor="white")
        inches = fig.dpi_scale_trans
        for op in self.ops:
            if op[0] == "text":
                _, x, top, text, kw = op
                fig.text(x, height - top, text, transform=inches, va="top", fontdict=FONT, zorder=5,
                         bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0}, **kw)
            elif op[0] == "photo":
                _, x, top, side, path, input_size, frame = op
                px = round(side * DPI)
                fig.figimage(_thumbnail(path, input_size, px), xo=round(x * DPI), yo=round((height - top) * DPI) - px,
                             origin="upper", zorder=1)
                fig.add_artist(Rectangle((x, height - top - side), side, side, transform=inches, fill=False,
                                         zorder=3, **frame))
            elif op[0] == "rect":
                _, x, top, w, h, style = op
                fig.add_artist(Rectangle((x, height - top - h), w, h, transform=inches, zorder=2, **style))
            else:
                _, x, top, bottom, style = op
                fig.add_artist(Line2D([x, x], [height - bottom, height - top], transform=inches, zorder=4, **style))
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        buffer = io.BytesIO()  # opaque, no metadata, deterministic quantisation: the same input, the same bytes
        rgb = Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3])
        rgb.quantize(colors=PALETTE, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG).save(
            buffer, format="PNG")  # the octree palette: 2x faster than median cut (profiled), as small
        return buffer.getvalue()


def _thumbnail(path: str, input_size: int | None, px: int) -> np.ndarray:
    """The photo at ``px`` pixels square: the region the model sees (``input_size``), else the centred square."""
    image = open_rgb(path)
    w, h = image.size
    if input_size:
        box = model_crop_box(image.size, int(input_size))
    else:
        side = min(w, h)
        box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
    return np.asarray(image.resize((px, px), Image.Resampling.LANCZOS, box=box))


_MEASURE = TextToPath()
_FONT_PROPERTIES = FontProperties(family=FONT["family"], size=FONT_PT)


def _width_in(text: str) -> float:
    return _MEASURE.get_text_width_height_descent(text, _FONT_PROPERTIES, ismath=False)[0] / 72


def _wrapped(text: str, width_in: float) -> list[str]:
    """``text`` in lines no wider than ``width_in`` as drawn, broken at ordinary spaces (a no-break space, as
    in German ``92 %``, holds), a word too long for a line on a line of its own."""
    lines: list[str] = []
    for word in text.split(" "):
        if lines and _width_in(f"{lines[-1]} {word}") <= width_in:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    return lines or [""]


def _input_size(record: Mapping) -> int | None:
    size = record.get("input_size") or (record.get("params") or {}).get("input_size")
    return int(size) if isinstance(size, (int, float)) and size > 0 else None


def _tiles(canvas: _Canvas, top: float, cells: list[tuple[str, list[str], bool]], input_size: int | None) -> float:
    """Photos with captions, at most :data:`MAX_COLUMNS` a row (rows balanced); returns the bottom."""
    rows = math.ceil(len(cells) / MAX_COLUMNS)
    columns = math.ceil(len(cells) / rows)
    cell_w = (WIDTH_IN - PAD_IN * (columns + 1)) / columns
    side = min(cell_w, MAX_THUMB_IN)
    for r in range(rows):
        row = cells[r * columns:(r + 1) * columns]
        captions = [[line for text in caption for line in _wrapped(text, cell_w - 0.06)] for _, caption, _ in row]
        for c, ((path, _, disagrees), lines) in enumerate(zip(row, captions, strict=True)):
            x = PAD_IN + c * (cell_w + PAD_IN) + (cell_w - side) / 2
            canvas.photo(x, top, side, path, input_size, DISAGREE_FRAME if disagrees else AGREE_FRAME)
            canvas.text(x + side / 2, top + side + 0.08, "\n".join(lines), ha="center", linespacing=1.15)
        top += side + 0.08 + LINE_IN * max(len(lines) for lines in captions) + PAD_IN * 1.5
    return top


def _similar(canvas: _Canvas, result, explained: str | None, word, gettext) -> None:
    cells = [(e.path, [gettext(LABELLED).format(label=word(e.label)),
                       gettext(MODEL_SAYS_SHORT).format(label=word(e.predicted), percent=_percent(e.confidence))],
              explained is not None and e.label != explained) for e in result.examples]
    canvas.height = _tiles(canvas, PAD_IN, cells, _input_size(result.record))


def _grid(canvas: _Canvas, result, word, gettext) -> None:
    by_rel = {e.rel: e for e in result.examples}
    top = PAD_IN
    for cls, rels in result.record["groups"].items():
        heading = _wrapped(gettext(MODEL_SAYS).format(label=word(cls)), WIDTH_IN - 2 * PAD_IN)
        canvas.text(PAD_IN, top, "\n".join(heading), fontweight="bold")
        top += LINE_IN * len(heading) + 0.1
        if not rels:
            canvas.text(PAD_IN, top, gettext(NONE_IN_POOL), fontstyle="italic")
            top += LINE_IN + PAD_IN * 2
            continue
        cells = [(by_rel[rel].path, [gettext(LABELLED).format(label=word(by_rel[rel].label)),
                                     gettext(CONFIDENCE).format(percent=_percent(by_rel[rel].confidence))],
                  by_rel[rel].label != cls) for rel in rels]
        top = _tiles(canvas, top, cells, _input_size(result.record)) + PAD_IN
    canvas.height = top


def _concepts(canvas: _Canvas, result, gettext) -> None:
    ranked = sorted(result.concepts, key=lambda c: (-c.score, c.name))
    bar_x = PAD_IN + 2 * (CONCEPT_THUMB_IN + PAD_IN)
    bar_w = WIDTH_IN - bar_x - PAD_IN * 2
    top = PAD_IN + LINE_IN  # room for "chance" above the dashed line
    bars: list[float] = []
    for concept in ranked:
        for i, path in enumerate(concept.exemplars[:2]):
            canvas.photo(PAD_IN + i * (CONCEPT_THUMB_IN + PAD_IN), top, CONCEPT_THUMB_IN, path, None, AGREE_FRAME)
        words = CONCEPT_SCORE if concept.significant else CONCEPT_NOT_SIGNIFICANT
        lines = _wrapped(gettext(words).format(name=concept_name(concept.name), percent=_percent(concept.score)),
                         bar_w + PAD_IN)
        canvas.text(bar_x, top, "\n".join(lines), linespacing=1.15)
        bar_top = top + LINE_IN * len(lines) + 0.05
        canvas.rect(bar_x, bar_top, bar_w, BAR_IN, {"facecolor": "none", "edgecolor": "#b0b0b0", "linewidth": 0.8})
        canvas.rect(bar_x, bar_top, max(bar_w * float(concept.score), 0.02), BAR_IN,
                    SIGNIFICANT_BAR if concept.significant else NOT_SIGNIFICANT_BAR)
        bars.append(bar_top)
        top = max(top + CONCEPT_THUMB_IN, bar_top + BAR_IN) + PAD_IN * 2
    middle = bar_x + bar_w / 2
    for bar_top in bars:  # over each bar only: a line through the words would cross them out
        canvas.line(middle, bar_top - 0.06, bar_top + BAR_IN + 0.06, CHANCE_LINE)
    canvas.text(middle, PAD_IN, gettext(CHANCE), ha="center")
    for share, ha in ((0, "left"), (50, "center"), (100, "right")):
        x = bar_x + bar_w * share / 100
        canvas.line(x, top - PAD_IN, top - PAD_IN + 0.08, {"color": "black", "linewidth": 1.5})
        canvas.text(x, top, str(share), ha=ha)
    scale = _wrapped(gettext(SCALE), WIDTH_IN - bar_x)
    canvas.text(bar_x + bar_w / 2, top + LINE_IN + 0.02, "\n".join(scale), ha="center")
    canvas.height = top + LINE_IN * (len(scale) + 1) + PAD_IN * 2


def render_panel(result, explained: str | None, wording: Mapping[str, str],
                 gettext: Callable[[str], str]) -> RenderedPanel:
    """``result`` (an ``ExampleResult`` of similar examples or the prediction grid, or a ``ConceptResult``)
    drawn as one PNG (see the module docstring), explaining the class named ``explained`` (similar examples:
    the prediction or a distinction candidate; ``None``: the shown prediction the record holds). ``wording``: a
    class name to what participants read (a name missing from it is shown as it is); ``gettext``: the study
    language's translator for the words drawn into the picture."""
    description = panel_description(result, explained)
    canvas = _Canvas()

    def word(name: str) -> str:
        return wording.get(name, name)

    if result.kind == "similar_examples":
        _similar(canvas, result, description.explained, word, gettext)
    elif result.kind == "prediction_grid":
        _grid(canvas, result, word, gettext)
    else:
        _concepts(canvas, result, gettext)
    return RenderedPanel(png=canvas.png(), description=description, alt_text=english_alt(description, word))
