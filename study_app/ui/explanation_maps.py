"""Maps for a trial, from the attribution cache; a missing entry is computed once, behind a spinner.

The page asks for ``(label, png, alt)`` per shown method and never waits on attribution when the study was
precomputed. When an entry is missing, the map service computes it once (a per-entry lock inside it), so
several participants arriving at once do not compute the same map several times. The engine asked the same
service for a trial's maps when it recorded the trial as shown, so these are the very PNGs recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from study_app.explain.render import MapDescription
from study_app.i18n import N_
from study_app.maps.service import MapRequest
from study_app.ui.language import _
from study_app.ui.resources import study_map_service

SPINNER_TEXT = N_("Preparing the explanation… (this happens only once per image)")
# The regions a map's alt text names (explain.render.REGIONS; a test keeps the two lists equal).
REGION_NAMES = {
    "upper left": N_("upper left"), "top": N_("top"), "upper right": N_("upper right"),
    "left": N_("left"), "centre": N_("centre"), "right": N_("right"),
    "lower left": N_("lower left"), "bottom": N_("bottom"), "lower right": N_("lower right"),
}


def describe(description: MapDescription, label: str) -> str:
    """The map's alt text in the participant's language."""
    if description.region is None:
        return _("{label} map: no region supports the predicted class.").format(label=label)
    text = _("{label} map: strongest evidence in the {region} of the image, covering about {share}% of it.").format(
        label=label, region=_(REGION_NAMES[description.region]), share=description.share)
    if description.against:
        text += " " + _("Some regions count against the class.")
    return text


@dataclass(frozen=True)
class MapPicture:
    label: str
    png: bytes
    alt: str


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
    return MapPicture(label=shown.label, png=rendered.png,
                      alt=describe(rendered.description, shown.label))


def trial_maps(trial) -> list[MapPicture]:
    return [map_picture(trial, shown) for shown in trial.methods]


def cached_picture(request: MapRequest) -> MapPicture | None:
    """The map if the cache has it, else ``None`` (never computes: for the researcher's gallery)."""
    served = explanation_service().cached(request)
    return None if served is None else MapPicture(label=request.label, png=served.png, alt=served.alt_text)


def faithfulness_scores(request: MapRequest) -> dict:
    """Faithfulness metrics stored with a cached map (deletion/insertion AUC, ...); else empty."""
    return explanation_service().faithfulness(request)


def compute_faithfulness(request: MapRequest) -> dict:
    return explanation_service().compute_faithfulness(request)
