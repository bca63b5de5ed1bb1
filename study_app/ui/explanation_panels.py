"""The words around a panel (similar examples, prediction grid, concepts) on the participant's page: its alt text
and the one line under it that says how to read it, in the study's language.

The alt text's wording lives with the renderer's (:mod:`study_app.explain.panel_words`, one wording for the
participant's page and the researcher's English gallery); here it gets the session's translator.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from study_app.explain.panel_render import PanelDescription
from study_app.explain.panel_words import describe_panel as _describe
from study_app.i18n import N_
from study_app.ui.language import _, current

# How to read each kind, shown under its panel.
CAPTIONS = {
    "similar_examples": N_("The images the model finds most similar to this one, each with its label and the "
                           "model's answer. A thick dashed frame marks an image labelled as another class."),
    "prediction_grid": N_("Images grouped by what the model says they show, with how sure it is. A thick dashed "
                          "frame marks an image labelled as another class than the model says."),
    "concepts": N_("Each bar: the share of the images of the class for which the concept pushes the model towards "
                   "the class; 50% (dashed line) is chance. Light hatched bars, marked not significant, did not "
                   "differ from random images."),
}


def describe_panel(description: PanelDescription, label: str,
                   class_label: Callable[[str], str] | Mapping[str, str]) -> str:
    """The panel's alt text in the participant's language; ``label``: the method's label as the page shows it;
    ``class_label``: a class name to the participant's wording (a function such as ``trial.class_label``, or a
    mapping: a name it lacks is read as it is)."""
    if isinstance(class_label, Mapping):
        wording = class_label
        class_label = lambda name: wording.get(name, name)  # noqa: E731 - the one-line adapter
    return _describe(description, label, class_label, current())


def panel_caption(kind: str) -> str:
    """One line under a panel of ``kind`` saying how to read it, in the participant's language."""
    if kind not in CAPTIONS:
        raise ValueError(f"unknown explanation kind {kind!r}; choose one of {', '.join(CAPTIONS)}")
    return _(CAPTIONS[kind])
