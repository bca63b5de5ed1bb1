"""Maps for a trial, from the attribution cache; a missing entry is computed once, behind a spinner.

The page asks for ``(label, png, alt)`` per shown method and never waits on attribution when the study was
precomputed. When an entry is missing, one session computes it while holding a per-entry lock, so several
participants arriving at once do not compute the same map several times; the others wait, then read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

from study_app.maps.service import MapRequest
from study_app.ui.resources import study_map_service

SPINNER_TEXT = "Preparing the explanation… (this happens only once per image)"


@dataclass(frozen=True)
class MapPicture:
    label: str
    png: bytes
    alt: str


@st.cache_resource(show_spinner=False)
def _entry_locks() -> tuple[threading.Lock, dict]:
    return threading.Lock(), {}


def _lock_for(request: MapRequest) -> threading.Lock:
    guard, locks = _entry_locks()
    with guard:
        return locks.setdefault(request, threading.Lock())


def explanation_service():
    """The study's map service (one per server process and cache folder, shared by every session); it
    serialises live attribution on the shared models."""
    return study_map_service()


def map_picture(trial, shown) -> MapPicture:
    """One map for ``shown`` (a ``ShownMethod``) on ``trial``'s image."""
    service = explanation_service()
    request = MapRequest.of(trial.checkpoint, trial.image_path, shown)
    rendered = service.cached(request)
    if rendered is None:
        with st.spinner(SPINNER_TEXT), _lock_for(request):
            rendered = service.get_or_compute(request)
    return MapPicture(label=shown.label, png=rendered.png, alt=rendered.alt_text)


def trial_maps(trial) -> list[MapPicture]:
    return [map_picture(trial, shown) for shown in trial.methods]


def cached_picture(checkpoint: str, image_path: str, shown) -> MapPicture | None:
    """The map if the cache has it, else ``None`` (never computes: for the researcher's gallery)."""
    rendered = explanation_service().cached(MapRequest.of(checkpoint, image_path, shown))
    return None if rendered is None else MapPicture(label=shown.label, png=rendered.png, alt=rendered.alt_text)


def faithfulness_scores(checkpoint: str, image_path: str, shown) -> dict:
    """Faithfulness metrics stored with a cached map (deletion/insertion AUC, ...); else empty."""
    return explanation_service().faithfulness(MapRequest.of(checkpoint, image_path, shown))


def compute_faithfulness(checkpoint: str, image_path: str, shown) -> dict:
    return explanation_service().compute_faithfulness(MapRequest.of(checkpoint, image_path, shown))
