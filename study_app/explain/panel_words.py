"""A panel's alt text (:class:`~study_app.explain.panel_render.PanelDescription` in words), in any shipped language.

One wording for both readers: the participant's page says it in the study's language
(:func:`study_app.ui.explanation_panels.describe_panel` passes the session's translator), the researcher's gallery
in English (:func:`english_alt`). Numbers are written as the language writes them (``82%`` / ``82 %``), lists
joined as it joins them (``cat (3) and dog (3)`` / ``Katze (3) und Hund (3)``). Class names are the participant's
wording (``class_label``); concept names are the researcher's folder names, as the picture shows them.
"""

from __future__ import annotations

from collections.abc import Callable

from babel.lists import format_list

from study_app.i18n import DEFAULT_LANGUAGE, N_, Translator, translator

# The panel's name in the English alt text (a study names its arms itself: the participant's page uses that label).
KIND_TITLES = {"similar_examples": N_("Similar examples"), "prediction_grid": N_("Prediction grid"),
               "concepts": N_("Concepts")}


def describe_panel(description, label: str, class_label: Callable[[str], str], t: Translator) -> str:
    """The alt text of a panel labelled ``label`` (the method's label), in ``t``'s language."""
    if description.kind == "similar_examples":
        return _similar(description, label, class_label, t)
    if description.kind == "prediction_grid":
        groups = [f"{class_label(name)} ({count})" for name, count in description.groups]
        return t.gettext("{label}: images the model says show {groups}.").format(
            label=label, groups=format_list(groups, locale=t.locale))
    return _concepts(description, label, class_label, t)


def _similar(description, label: str, class_label: Callable[[str], str], t: Translator) -> str:
    text = t.ngettext("{label}: {count} image the model finds most similar to this one.",
                      "{label}: {count} images the model finds most similar to this one.",
                      description.count).format(label=label, count=description.count)
    if description.agreeing is not None:
        return text + " " + t.ngettext("{agreeing} of them is labelled {target}.",
                                       "{agreeing} of them are labelled {target}.", description.agreeing).format(
            agreeing=description.agreeing, target=class_label(description.explained))
    labels = [f"{class_label(name)} ({count})" for name, count in description.labels]
    return text + " " + t.gettext("Their labels: {labels}.").format(labels=format_list(labels, locale=t.locale))


def _concepts(description, label: str, class_label: Callable[[str], str], t: Translator) -> str:
    if not description.concepts:
        return t.gettext("{label}: no concepts to show.").format(label=label)
    scores = [f"{name} {t.percent(score)}" if significant else
              t.gettext("{name} {percent} (not significant)").format(name=name, percent=t.percent(score))
              for name, score, significant in description.concepts]
    return t.gettext("{label} for {target}: {scores}. Each percentage is the share of the images of {target} that "
                     "the concept pushes towards {target}; 50% is chance.").format(
        label=label, target=class_label(description.explained), scores=", ".join(scores))


def english_alt(description, class_label: Callable[[str], str]) -> str:
    """The English alt text, named by the kind's English title (the researcher's pages)."""
    return describe_panel(description, KIND_TITLES[description.kind], class_label, translator(DEFAULT_LANGUAGE))
