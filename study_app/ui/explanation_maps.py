"""Maps for a trial, from the attribution cache; a missing entry is computed once, behind a spinner.

The page asks for ``(label, png, alt)`` per shown method and never waits on attribution when the study was
precomputed. When an entry is missing, the map service computes it once (a per-entry lock inside it), so
several participants arriving at once do not compute the same map several times. The engine asked the same
service for a trial's maps when it recorded the trial as shown, so these are the very PNGs recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from study_app.explain.colours import MapColours, map_colours
from study_app.explain.methods import METHODS
from study_app.explain.render import MapDescription
from study_app.i18n import N_
from study_app.maps.service import MapRequest
from study_app.ui.explanation_panels import describe_panel, panel_caption
from study_app.ui.language import _
from study_app.ui.resources import study_map_service

SPINNER_TEXT = N_("Preparing the explanation… (this happens only once per image)")
# The regions a map's alt text names (explain.render.REGIONS; a test keeps the two lists equal).
REGION_NAMES = {
    "upper left": N_("upper left"), "top": N_("top"), "upper right": N_("upper right"),
    "left": N_("left"), "centre": N_("centre"), "right": N_("right"),
    "lower left": N_("lower left"), "bottom": N_("bottom"), "lower right": N_("lower right"),
}


def describe(description: MapDescription, label: str, target: str | None = None) -> str:
    """The map's alt text in the participant's language; ``target``: the class the map explains, as the
    participant reads it (``None``: the model's prediction)."""
    if description.region is None:
        if target is not None:
            return _("{label} map: no region supports {target}.").format(label=label, target=target)
        return _("{label} map: no region supports the predicted class.").format(label=label)
    text = _("{label} map: strongest evidence in the {region} of the image, covering about {share}% of it.").format(
        label=label, region=_(REGION_NAMES[description.region]), share=description.share)
    if target is not None:
        text += " " + _("The map explains {target}.").format(target=target)
    if description.against:
        text += " " + _("Some regions count against the class.")
    return text


# The colours of every scheme in explain.colours.MAP_COLOURS, as the legend names them (a test keeps the names equal).
COLOUR_NAMES = {"light green": N_("light green"), "turquoise": N_("turquoise"), "blue": N_("blue"),
                "dark blue": N_("dark blue"), "red": N_("red"),
                "dark purple": N_("dark purple"), "pink": N_("pink"), "orange": N_("orange"),
                "yellow": N_("yellow"), "purple": N_("purple")}


def explained_class(trial, shown) -> str | None:
    """The class ``shown``'s map explains, as the participant reads it: its own target (a distinction
    candidate), else the prediction the page shows; ``None`` where the page shows neither."""
    name = shown.target or (trial.prediction.label if trial.prediction is not None else None)
    return None if name is None else trial.class_label(name)


def legend(trial, pictures: list[MapPicture]) -> str:
    """What every colour on the trial's maps means, and which class they explain (each map its own, named
    above it, on distinction trials), named in the colour scheme the maps were drawn in (``MapPicture.colours``).
    The map service draws every map unsigned (``explain.render``: evidence for the class only, in the scheme's
    ``unsigned_scale``); for a method whose attribution is signed (LIME, Kernel SHAP, Integrated Gradients, ...)
    the legend says that an uncoloured region may also be evidence against the class. A map drawn signed
    (``MapPicture.signed``) adds the colours for and against. Panels (similar examples, ...) are left out; with
    no map on the trial the legend is empty."""
    methods = [m for m, p in zip(trial.methods, pictures, strict=True) if not p.panel]
    pictures = [p for p in pictures if not p.panel]  # a panel says in its caption how to read it
    if not pictures:
        return ""
    classes = {explained_class(trial, m) for m in methods}
    if len(classes) == 1 and None not in classes:
        subject = _("The colours show the evidence for **{target}**").format(target=classes.pop())
    else:
        subject = _("Each map shows the evidence for the class named above it")
    scheme = picture_colours(pictures)
    scale = [_(COLOUR_NAMES[name]) for _v, name in scheme.unsigned_scale]
    text = subject + ": " + _("{weak} where it is weak, {middle} and {strong} where it is stronger, {strongest} "
                              "where it is strongest.").format(weak=scale[0], middle=scale[1], strong=scale[2],
                                                                strongest=scale[3])
    if any(p.signed for p in pictures):
        text += " " + _("On maps that show evidence against the class, {against} marks it and {for_} marks evidence "
                        "for it.").format(against=_(COLOUR_NAMES[scheme.against_colour[1]]),
                                          for_=_(COLOUR_NAMES[scheme.for_colour[1]]))
    unsigned_two_sided = list(dict.fromkeys(m.label for m, p in zip(methods, pictures, strict=True)
                                            if not p.signed and METHODS[m.name].signed))
    if unsigned_two_sided:
        text += " " + _("Evidence against the class ({methods}) is not coloured: where the photo shows through "
                        "unchanged, there is no evidence for the class, or evidence against it.").format(
                            methods=", ".join(unsigned_two_sided))
    else:
        text += " " + _("Where the photo shows through unchanged, the explanation found no evidence for it.")
    return text


@dataclass(frozen=True)
class MapPicture:
    label: str
    png: bytes
    alt: str
    signed: bool = False  # drawn with evidence against the class too
    colours: str | None = None  # the colour scheme it was drawn in (None: the default)
    panel: str | None = None  # a panel's kind (similar examples, ...): drawn at full width, with ``caption``
    caption: str | None = None  # how to read a panel, in the participant's language


def picture_colours(pictures: list[MapPicture]) -> MapColours:
    """The one colour scheme of a page's maps (a study draws all its maps in one)."""
    names = {p.colours for p in pictures}
    if len(names) > 1:
        raise ValueError(f"maps drawn in several colour schemes on one page: {sorted(map(str, names))}")
    return map_colours(names.pop() if names else None)


def explanation_service():
    """The study's map service (one per server process and cache folder, shared by every session); it
    serialises live attribution on the shared models."""
    return study_map_service()


def map_picture(trial, shown) -> MapPicture:
    """One map for ``shown`` (a ``ShownMethod``) drawn over ``trial``'s image (a decision placebo's map comes
    from another image: :meth:`MapRequest.on_trial`), the same PNG the engine recorded as shown."""
    service = explanation_service()
    request = MapRequest.on_trial(trial.checkpoint, trial.image_path, shown)
    rendered = service.cached(request)
    if rendered is None:
        with st.spinner(_(SPINNER_TEXT)):  # the service computes a missing map once for all who ask
            rendered = service.get_or_compute(request)
    if rendered.is_panel:
        kind = rendered.description.kind
        return MapPicture(label=shown.label, png=rendered.png, panel=kind, caption=panel_caption(kind),
                          alt=describe_panel(rendered.description, shown.label, trial.class_label))
    return MapPicture(label=shown.label, png=rendered.png, signed=rendered.description.signed, colours=rendered.colours,
                      alt=describe(rendered.description, shown.label, explained_class(trial, shown)))


def trial_maps(trial) -> list[MapPicture]:
    return [map_picture(trial, shown) for shown in trial.methods]


def cached_picture(request: MapRequest) -> MapPicture | None:
    """The map if the cache has it, else ``None`` (never computes: for the researcher's gallery)."""
    served = explanation_service().cached(request)
    return None if served is None else MapPicture(label=request.label, png=served.png, alt=served.alt_text,
                                                  colours=served.colours,
                                                  panel=served.description.kind if served.is_panel else None)


def panel_quality(request: MapRequest) -> dict | None:
    """A cached panel's quality figures (label agreement, TCAV p-values, ...); ``None`` for a map or a panel not
    cached (never computes)."""
    served = explanation_service().cached(request)
    return None if served is None else served.quality


def faithfulness_scores(request: MapRequest) -> dict:
    """Faithfulness metrics stored with a cached map (deletion/insertion AUC, ...); else empty."""
    return explanation_service().faithfulness(request)


def convergence_record(request: MapRequest) -> dict | None:
    """A cached sampled map's convergence record (split-half Spearman, model evaluations, why it stopped);
    ``None`` for deterministic methods or a map not cached (never computes)."""
    return explanation_service().convergence(request)


def compute_faithfulness(request: MapRequest) -> dict:
    return explanation_service().compute_faithfulness(request)
