"""The panels' pictures (similar examples, prediction grid, concepts) drawn from the demo's pet photos: decodable
PNGs of a phone-readable shape, the same bytes for the same input, differences that do not rest on colour (a
dashed frame, a hatched bar, in greyscale), the study's language drawn into the picture, and descriptions that
count what the result holds."""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from study_app.explain import panel_render as pr
from study_app.explain.concepts import ConceptResult, ConceptScore
from study_app.explain.examples import Example, ExampleResult
from study_app.explain.panel_render import PanelDescription, render_panel
from study_app.i18n import translator

PETS = Path(__file__).resolve().parents[2] / "demo" / "stimuli" / "pets"
CATS = sorted(str(p) for p in (PETS / "cat").glob("*.jpg"))
DOGS = sorted(str(p) for p in (PETS / "dog").glob("*.jpg"))
EN = translator("en").gettext
DE = translator("de").gettext
DARK = 90  # greyscale level below which a pixel counts as dark


def example(path: str, label: str, predicted: str, confidence: float, similarity: float | None = 0.9) -> Example:
    return Example(path, Path(path).name, label, predicted, confidence, similarity)


def similar(*examples: Example, shown: str = "cat", **record) -> ExampleResult:
    return ExampleResult("similar_examples", examples, {"shown_prediction": {"label": shown, "confidence": 0.9},
                                                         **record}, "key")


def grid() -> ExampleResult:
    cat_row = [example(CATS[0], "cat", "cat", 0.99, None), example(DOGS[1], "dog", "cat", 0.7, None)]
    dog_row = [example(DOGS[2], "dog", "dog", 0.97, None), example(DOGS[3], "dog", "dog", 0.9, None),
               example(CATS[4], "cat", "dog", 0.6, None)]
    groups = {"cat": [e.rel for e in cat_row], "dog": [e.rel for e in dog_row], "bird": []}
    return ExampleResult("prediction_grid", (*cat_row, *dog_row), {"groups": groups, "quality": {}}, "key")


def concepts(*scores: tuple[str, float, bool]) -> ConceptResult:
    made = tuple(ConceptScore(name, score, 0.001 if sig else 0.4, sig, (CATS[i % len(CATS)], DOGS[i % len(DOGS)]))
                 for i, (name, score, sig) in enumerate(scores))
    return ConceptResult("concepts", "cat", made, {"quality": {}}, "key")


def pixels(png: bytes, mode: str = "L") -> np.ndarray:
    image = Image.open(io.BytesIO(png))
    image.load()
    return np.asarray(image.convert(mode)).astype(int)


FIVE = similar(example(CATS[0], "cat", "cat", 0.92), example(CATS[1], "cat", "cat", 0.81),
               example(DOGS[0], "dog", "cat", 0.55), example(CATS[2], "cat", "dog", 0.6),
               example(CATS[3], "cat", "cat", 0.99), input_size=224)
THREE_CONCEPTS = concepts(("long_fur", 0.82, True), ("short_fur", 0.31, False), ("pointy_ears", 0.64, True))


@pytest.mark.parametrize("result", [FIVE, grid(), THREE_CONCEPTS], ids=lambda r: r.kind)
def test_each_kind_is_a_decodable_png_readable_at_phone_width(result):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a glyph missing from the font warns
        panel = render_panel(result, "cat", {"cat": "Kätzchen", "dog": "Hündin"}, DE)
    image = Image.open(io.BytesIO(panel.png))
    assert image.format == "PNG" and image.mode == "P"  # a dithered palette: a quarter of the RGB bytes
    width, height = image.size
    assert width == pr.WIDTH_IN * pr.DPI == 810
    assert 0.5 <= height / width <= 1.6, image.size  # about 2:1 or taller; taller with more rows
    assert pr.FONT_PT / (pr.WIDTH_IN * 72) >= 0.03  # text at least 3 % of the width (11 px on a 360 px phone)
    grey = pixels(panel.png)
    assert (grey[:4] > 250).all() and (grey[:, :4] > 250).all(), "a white margin: black on white"


def test_the_same_input_gives_the_same_bytes_in_a_fresh_process():
    first = render_panel(FIVE, "cat", {}, EN).png
    assert render_panel(FIVE, "cat", {}, EN).png == first
    script = ("import hashlib, sys; sys.path.insert(0, 'tests/explain'); import test_panel_render as t; "
              "from study_app.explain.panel_render import render_panel; "
              "print(hashlib.sha256(render_panel(t.FIVE, 'cat', {}, t.EN).png).hexdigest())")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True,
                         env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin", "HOME": str(Path.home()),
                              "PYTHONPATH": str(root)})
    assert out.stdout.strip() == hashlib.sha256(first).hexdigest()
    assert b"Software" not in first and b"Creation" not in first, "no metadata that varies between runs"


def _frame_row(png: bytes, column: int, columns: int = 3) -> np.ndarray:
    """Greyscale pixels just outside the top edge of the photo in ``column`` (where only a thick frame reaches)."""
    cell = (pr.WIDTH_IN - pr.PAD_IN * (columns + 1)) / columns
    side = min(cell, pr.MAX_THUMB_IN)
    x0 = pr.PAD_IN + column * (cell + pr.PAD_IN) + (cell - side) / 2
    y = round(pr.PAD_IN * pr.DPI) - 5
    return pixels(png)[y, round(x0 * pr.DPI) + 8: round((x0 + side) * pr.DPI) - 8]


def test_an_example_labelled_otherwise_has_a_dashed_dark_frame_seen_in_greyscale():
    result = similar(example(CATS[0], "cat", "cat", 0.9), example(CATS[1], "cat", "cat", 0.8),
                     example(DOGS[0], "dog", "cat", 0.7))
    # the same photos and captions; only the explained class (and so which photos disagree) changes
    for explained, dashed_columns in (("cat", {2}), ("dog", {0, 1})):
        png = render_panel(result, explained, {}, EN).png
        for column in range(3):
            row = _frame_row(png, column)
            if column in dashed_columns:
                dark = row < DARK
                runs = np.count_nonzero(np.diff(dark.astype(int)) == 1)
                assert 0.35 < dark.mean() < 0.85 and runs >= 4, (explained, column, dark.mean(), runs)  # dashes
            else:
                assert (row > 240).all(), f"{explained}: photo {column} is labelled so: only a thin frame"
    assert render_panel(result, "cat", {}, EN).description.agreeing == 2


def _bar_interior(png: bytes, score: float) -> np.ndarray:
    """Greyscale pixels inside a lone concept's bar: its rows are those where the bar's outline runs unbroken
    through the part of the scale the bar does not fill (past the dashed line at 50 %)."""
    grey = pixels(png)
    bar_x = pr.PAD_IN + 2 * (pr.CONCEPT_THUMB_IN + pr.PAD_IN)
    bar_w = pr.WIDTH_IN - bar_x - 2 * pr.PAD_IN
    outline = grey[:, round((bar_x + 0.55 * bar_w) * pr.DPI): round((bar_x + 0.95 * bar_w) * pr.DPI)]
    rows = np.flatnonzero((outline < 235).all(axis=1))
    assert len(rows) >= 2 and rows[-1] - rows[0] > 0.8 * pr.BAR_IN * pr.DPI, rows
    top, bottom = rows[0], rows[-1]
    return grey[top + 6: bottom - 5, round(bar_x * pr.DPI) + 6: round((bar_x + score * bar_w) * pr.DPI) - 6]


def test_a_non_significant_bar_is_light_and_hatched_a_significant_one_solid_dark_in_greyscale():
    solid = _bar_interior(render_panel(concepts(("stripes", 0.4, True)), "cat", {}, EN).png, 0.4)
    hatched = _bar_interior(render_panel(concepts(("stripes", 0.4, False)), "cat", {}, EN).png, 0.4)
    assert solid.size > 1000 and hatched.size > 1000
    assert solid.mean() < 70 and solid.std() < 5, (solid.mean(), solid.std())
    dark_share = (hatched < 128).mean()
    assert hatched.mean() > 150 and 0.03 < dark_share < 0.5, (hatched.mean(), dark_share)  # hatch lines on light


def test_the_words_drawn_are_the_study_language_and_the_class_wording():
    for result in (FIVE, grid(), THREE_CONCEPTS):
        english, german = render_panel(result, "cat", {}, EN).png, render_panel(result, "cat", {}, DE).png
        assert english != german, f"{result.kind}: the German catalogue's words are drawn"
        assert DE(pr.LABELLED) != pr.LABELLED and DE(pr.CONCEPT_NOT_SIGNIFICANT) != pr.CONCEPT_NOT_SIGNIFICANT
    plain = render_panel(FIVE, "cat", {}, EN)
    worded = render_panel(FIVE, "cat", {"cat": "house cat"}, EN)
    assert plain.png != worded.png and "house cat" in worded.alt_text and "house cat" not in plain.alt_text


def test_descriptions_count_what_the_result_holds():
    d = render_panel(FIVE, "cat", {}, EN).description
    assert d == PanelDescription("similar_examples", "cat", 5, 4, (("cat", 4), ("dog", 1)), (), ())
    assert render_panel(FIVE, "dog", {}, EN).description.agreeing == 1
    assert render_panel(FIVE, None, {}, EN).description.explained == "cat", "None: the shown prediction"
    g = render_panel(grid(), None, {}, EN).description
    assert (g.count, g.groups, g.labels) == (5, (("cat", 2), ("dog", 3), ("bird", 0)), (("cat", 2), ("dog", 3)))
    c = render_panel(THREE_CONCEPTS, None, {}, EN).description
    assert c.explained == "cat" and c.count == 3 and c.agreeing is None
    assert c.concepts == (("long fur", 0.82, True), ("pointy ears", 0.64, True), ("short fur", 0.31, False))
    assert not any(d.signed or d.region for d in (d, g, c))


def test_english_alt_texts_say_the_counts_and_the_significance():
    assert render_panel(FIVE, "cat", {"cat": "a cat"}, EN).alt_text == (
        "Similar examples: 5 images the model finds most similar to this one. 4 of them are labelled a cat.")
    assert render_panel(grid(), None, {}, EN).alt_text == (
        "Prediction grid: images the model says show cat (2), dog (3), and bird (0).")
    assert render_panel(THREE_CONCEPTS, None, {}, EN).alt_text.startswith(
        "Concepts for cat: long fur 82%, pointy ears 64%, short fur 31% (not significant). ")


def test_an_empty_prediction_group_says_none_in_the_pool():
    only_empty = ExampleResult("prediction_grid", (), {"groups": {"cat": [], "dog": []}}, "key")
    panel = render_panel(only_empty, None, {}, EN)
    assert panel.description.count == 0 and panel.description.groups == (("cat", 0), ("dog", 0))
    grey = pixels(panel.png)
    assert (grey < DARK).any() and grey.shape[0] < grey.shape[1] / 2, "headings and the words, no photos"


def test_an_unknown_kind_is_refused_naming_it():
    with pytest.raises(ValueError, match="unknown explanation kind 'prototypes'"):
        render_panel(ExampleResult("prototypes", (), {}, "key"), None, {}, EN)
