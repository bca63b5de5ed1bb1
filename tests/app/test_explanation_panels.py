"""The words around a panel on the participant's page (its alt text and the line saying how to read it) come from
the study language's catalogue: German pages show no English our code supplies, name the class as the task words
it, and write numbers the German way; the English alt text is the renderer's own."""

from __future__ import annotations

import pytest
import streamlit as st

from app.test_languages import english_leftovers
from study_app import i18n
from study_app.explain.panel_render import PanelDescription
from study_app.explain.panel_words import english_alt
from study_app.i18n import Translator, available_languages, read_catalog, translator
from study_app.ui.explanation_panels import CAPTIONS, describe_panel, panel_caption
from study_app.ui.state_keys import LANGUAGE

SIMILAR = PanelDescription("similar_examples", "cat", 5, 4, (("cat", 4), ("dog", 1)), (), ())
ONE_SIMILAR = PanelDescription("similar_examples", "dog", 1, 0, (("cat", 1),), (), ())
GRID = PanelDescription("prediction_grid", None, 5, None, (("cat", 2), ("dog", 3)), (("cat", 2), ("dog", 3)), ())
CONCEPTS = PanelDescription("concepts", "cat", 2, None, (), (),
                            (("long fur", 0.82, True), ("short fur", 0.31, False)))
WORDING = {"cat": "Katze", "dog": "Hund"}


@pytest.fixture
def session_language(monkeypatch):
    """Sets the session's study language; every translator records the messages its catalogue lacks."""
    missing: list[str] = []
    fresh = {lang: Translator(lang, read_catalog(lang), on_missing=missing.append) for lang in available_languages()}
    monkeypatch.setattr(i18n, "_translators", fresh)

    def use(language: str) -> list[str]:
        st.session_state[LANGUAGE] = language
        return missing

    yield use
    st.session_state.pop(LANGUAGE, None)


def test_german_alt_texts_are_german_name_the_class_wording_and_write_numbers_the_german_way(session_language):
    missing = session_language("de")
    de = translator("de")
    similar = describe_panel(SIMILAR, "Ähnliche Fotos", WORDING)
    assert similar == "Ähnliche Fotos: 5 Bilder, die das Modell diesem am ähnlichsten findet. Davon sind 4 als Katze " \
                      "beschriftet."
    assert "Davon ist 0 als Hund" not in describe_panel(ONE_SIMILAR, "Beispiele", WORDING)
    assert describe_panel(ONE_SIMILAR, "Beispiele", WORDING).startswith("Beispiele: 1 Bild, das ")
    grid = describe_panel(GRID, "Raster", lambda name: WORDING[name])  # a function such as trial.class_label
    assert grid == "Raster: Bilder, die laut Modell Katze (2) und Hund (3) zeigen."
    concepts = describe_panel(CONCEPTS, "Konzepte", WORDING)
    assert concepts.startswith("Konzepte für Katze: long fur 82\xa0%, short fur 31\xa0% (nicht signifikant). ")
    texts = [similar, grid, concepts, describe_panel(ONE_SIMILAR, "Beispiele", WORDING),
             *(panel_caption(kind) for kind in CAPTIONS)]
    assert not english_leftovers(texts, de), "English left in the German words"
    assert not missing, f"missing from the German catalogue: {sorted(set(missing))}"
    for kind in CAPTIONS:
        assert panel_caption(kind) != CAPTIONS[kind], f"{kind}: the German caption is a translation"


def test_english_alt_texts_are_the_ones_the_renderer_gives_the_researchers_gallery(session_language):
    missing = session_language("en")
    for description, title in ((SIMILAR, "Similar examples"), (GRID, "Prediction grid"), (CONCEPTS, "Concepts")):
        assert describe_panel(description, title, WORDING) == english_alt(description, WORDING.get)
    assert describe_panel(ONE_SIMILAR, "Examples", {}) == ("Examples: 1 image the model finds most similar to this "
                                                           "one. 0 of them are labelled dog.")
    assert describe_panel(CONCEPTS, "Concepts", {}).endswith(
        "short fur 31% (not significant). Each percentage is the share of the images of cat that the concept "
        "pushes towards cat; 50% is chance.")
    assert not missing


def test_a_caption_for_each_kind_says_how_to_read_it(session_language):
    session_language("en")
    assert "50%" in panel_caption("concepts") and "not significant" in panel_caption("concepts")
    assert "dashed frame" in panel_caption("similar_examples") and "dashed frame" in panel_caption("prediction_grid")
    with pytest.raises(ValueError, match="unknown explanation kind 'heatmap'"):
        panel_caption("heatmap")
