"""Maps for a trial, from the attribution cache; a missing entry is computed once, behind a spinner.

Adapter between the trial page and ``study_app.explain``: the page asks for ``(label, png, alt)`` per shown
method and never waits on attribution when the study was precomputed (``xai-study precompute``). When
an entry is missing, one session computes it while holding a per-entry lock, so several participants
arriving at once do not compute the same map several times; the others wait and then read it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import streamlit as st

SPINNER_TEXT = "Preparing the explanation… (this happens only once per image)"


@dataclass(frozen=True)
class MapPicture:
    label: str
    png: bytes
    alt: str


@st.cache_resource(show_spinner=False)
def _entry_locks() -> tuple[threading.Lock, dict]:
    return threading.Lock(), {}


def _lock_for(key: tuple) -> threading.Lock:
    guard, locks = _entry_locks()
    with guard:
        return locks.setdefault(key, threading.Lock())


@st.cache_resource(show_spinner=False)
def explanation_service():
    from study_app.explain.service import ExplanationService  # noqa: PLC0415 - torch/captum: load on use

    return ExplanationService()


def _request(shown) -> dict:
    return {"method": shown.name, "params": dict(shown.params), "target": shown.target,
            "randomized_model": shown.randomized_model}


def map_picture(trial, shown) -> MapPicture:
    """One map for ``shown`` (a ``ShownMethod``) on ``trial``'s image."""
    service = explanation_service()
    request = _request(shown)
    rendered = service.cached(trial.checkpoint, trial.image_path, **request)
    if rendered is None:
        key = (trial.checkpoint, trial.image_path, repr(sorted(request.items(), key=str)))
        with st.spinner(SPINNER_TEXT), _lock_for(key):
            rendered = service.get_or_compute(trial.checkpoint, trial.image_path, **request)
    return MapPicture(label=shown.label, png=rendered.png, alt=rendered.alt_text)


def trial_maps(trial) -> list[MapPicture]:
    return [map_picture(trial, shown) for shown in trial.methods]


def cached_picture(checkpoint: str, image_path: str, shown) -> MapPicture | None:
    """The map if the cache has it, else ``None`` (never computes: for the researcher's gallery)."""
    rendered = explanation_service().cached(checkpoint, image_path, **_request(shown))
    return None if rendered is None else MapPicture(label=shown.label, png=rendered.png, alt=rendered.alt_text)


def faithfulness_scores(checkpoint: str, image_path: str, shown) -> dict:
    """Faithfulness metrics of a cached map (deletion/insertion AUC, ...) where computed; else empty."""
    scores = getattr(explanation_service(), "faithfulness", None)
    if scores is None:
        return {}
    return dict(scores(checkpoint, image_path, **_request(shown)) or {})
