"""What the trial page says matches what it shows (issue 21, items 6 and 7), walked in AppTest.

* A German study names its classes in German (``class_labels``): options, prediction, map headings, alt texts and
  the attention prompt read "Katze"/"Hund", never the model's "cat"/"dog" (the rehearsal: "Das Modell sagt
  **dog** vorher"); the stored answer stays the class name.
* The legend under the maps names the class they explain (each map its own on distinction trials) and every
  colour drawn (it explained only yellow), in the colour scheme the study file picks (``map_colours``), and says
  where a method's evidence against the class is not drawn.
* The page shown when the study cannot open speaks the study file's language.
"""

from __future__ import annotations

import re

import pytest

from app.drive import new_app
from app.test_languages import Walker, image_alts, shown_texts, study_in
from study_app.i18n import translator
from study_app.study.steps import DECISION_LABELS

LABELS = {"cat": "Katze", "dog": "Hund"}


def german_study(setup_study, protocol: str, **options):
    setup = study_in(setup_study, "de", protocol, **options)
    text = setup.study_file.read_text()
    setup.study_file.write_text(text.replace("attention_checks = 1\n", "attention_checks = 1\n"
                                             'class_labels = { cat = "Katze", dog = "Hund" }\n', 1))
    return setup


class LabelWalker(Walker):
    """The language tests' walker, choosing classes by their German labels (as the radio buttons read)."""

    def __init__(self, at, t):
        super().__init__(at, t)
        self.raw.update({label: name for name, label in LABELS.items()})

    def trial_pages(self) -> list[list[str]]:
        prefix = self.t.gettext("Image {number} of {total}").split("{")[0]
        return [page for page in self.pages if any(s.startswith(prefix) for s in page)]


def _no_class_names(pages: list[list[str]]) -> None:
    english = [s for page in pages for s in page if re.search(r"\b(cat|dog)\b", s)]
    assert not english, f"class names where their labels belong: {english}"


def test_a_distinction_trial_names_the_classes_as_the_study_file_does(setup_study):
    german_study(setup_study, "distinction", trials=2)
    walker = LabelWalker(new_app().run(), translator("de"))
    walker.to_end()
    trials = walker.trial_pages()
    assert trials
    _no_class_names(walker.pages)
    assert all({"Katze", "Hund"} <= set(page) for page in trials), "the options read the labels"
    maps = [page for page in trials if "**Katze**" in page]
    assert maps, "each map is headed by its candidate class's label"
    legend = [s for page in maps for s in page if s.startswith("Jede Karte zeigt die Hinweise auf die Klasse")]
    assert legend and "Hellgrün" in legend[0] and "Dunkelblau" in legend[0], legend
    alts = [a for page in trials for a in page if "-Karte:" in a]
    assert alts and all(("Katze" in a) != ("Hund" in a) for a in alts), alts
    check = [s for page in trials for s in page if s.startswith("Aufmerksamkeitstest")]
    assert check and re.search(r"„(Katze|Hund)“", check[0]), check


SCALES = {None: "light green where it is weak, turquoise and blue where it is stronger, dark blue where it is strongest.",
          "inferno": "dark purple where it is weak, pink and orange where it is stronger, yellow where it is strongest."}


@pytest.mark.parametrize("colours", list(SCALES))
def test_the_verification_legend_names_the_class_and_every_colour(setup_study, colours):
    setup = setup_study("verification", trials=4, checks=1)
    if colours is not None:
        text = setup.study_file.read_text()
        setup.study_file.write_text(text.replace("[study]\n", f'[study]\nmap_colours = "{colours}"\n', 1))
    t = translator("en")
    walker = LabelWalker(new_app().run(), t)
    walker.to_end()
    trials = walker.trial_pages()
    with_maps = [page for page in trials if any(s.startswith("The colours show") for s in page)]
    assert with_maps, "a trial with a map shows the legend"
    for page in with_maps:
        predicted = next(re.search(r"The model predicts \*\*(\w+)\*\*", s).group(1) for s in page
                         if s.startswith("The model predicts"))
        legend = next(s for s in page if s.startswith("The colours show"))
        assert legend.startswith(f"The colours show the evidence for **{predicted}**: {SCALES[colours]}"), legend
        methods = [s for s in page if s in ("**Grad-CAM**", "**Integrated Gradients**")]
        if methods == ["**Integrated Gradients**"]:  # signed attribution, drawn for the class only
            assert "Evidence against the class (Integrated Gradients) is not coloured" in legend, legend
        else:
            assert legend.endswith("Where the photo shows through unchanged, the explanation found no evidence "
                                   "for it."), legend
        alts = [a for a in page if a.startswith(("Grad-CAM:", "Integrated Gradients:"))]
        assert alts and all(f"{predicted}." in a for a in alts), alts
    check = [s for page in trials for s in page if s.startswith("Attention check")]
    assert check and any(f"“{label}”" in check[0] for label in DECISION_LABELS.values()), check
    assert "'accept'" not in check[0] and "'reject'" not in check[0]


def test_the_unavailable_page_speaks_the_study_files_language(setup_study):
    setup = study_in(setup_study, "de", "verification")
    setup.study_file.write_text(setup.study_file.read_text().replace('checkpoint = "', 'checkpoint = "/missing', 1))
    at = new_app().run()
    assert [t.value for t in at.title] == ["Diese Studie ist derzeit nicht verfügbar"], shown_texts(at)
    assert not image_alts(at)
