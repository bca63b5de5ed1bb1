"""What the engine records when a trial stage is shown: the fact, at the moment, never reconstructed later.

The engine asks its map server (the app's :class:`study_app.maps.service.StudyMapService`, passed in as
``maps``) for the maps of the stage it is about to show; the server hands out exactly the rendered maps the
page then draws (from its in-memory cache), each with the SHA-256 of its PNG and the attribution-cache key
it came from, the class it explains, and the images behind it: the one the attribution was computed on (a
decision placebo's other image) and the one drawn under it (always the trial's own). Without a map server
(tests, scripts) the record still holds the plan's hashes, target and cache keys, with the served fields
empty. A server that fails never stops an answer from being stored.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

from study_app.store.records import ShownMapRecord, ShownTrial
from study_app.study.plan import PlannedMap, TrialStep

log = logging.getLogger(__name__)


class ServedMapLike(Protocol):
    """What :class:`study_app.maps.service.ServedMap` gives; ``target_label``, ``image_sha256`` (of the image
    the map was computed on), ``photo_sha256`` (of the image drawn under it) and ``convergence`` (a sampled
    map's convergence record) and ``colours`` (the colour scheme it was drawn in) are read where present."""

    png_sha256: str
    cache_key: str
    map_sha256: str
    checkpoint_sha256: str
    faithfulness: dict | None


class MapServer(Protocol):
    def serve_step(self, step: TrialStep) -> Sequence[ServedMapLike]:
        """The maps of ``step``, in order, as the page will draw them."""


def planned_target_label(step: TrialStep, m: PlannedMap) -> str | None:
    """The class a planned map explains, by name: its own target, or the step's (the model's prediction) when
    it explains the step's class; ``None`` when the plan does not say (a version-3 placebo of another image's
    class: the served map's label is recorded instead)."""
    if m.target is not None:
        return m.target
    return step.target_label if m.target_index == step.target_index else None


def record_showing(step: TrialStep, maps: MapServer | None) -> ShownTrial:
    """The record of ``step`` being shown, with what ``maps`` serves for it."""
    served: Sequence[ServedMapLike | None] = [None] * len(step.maps)
    if maps is not None and step.maps:
        try:
            served = list(maps.serve_step(step))
        except Exception:  # noqa: BLE001 - the answer that led here must still be stored; the page will say more
            log.exception("maps of %s (%s) could not be served; recorded without PNG hashes",
                          step.step_id, step.image_id)
    records = tuple(
        ShownMapRecord(key=m.key, column=m.column, name=m.name, target=m.target, target_index=m.target_index,
                       cache_key=s.cache_key if s is not None else m.cache_key,
                       png_sha256=s and s.png_sha256, map_sha256=s and s.map_sha256,
                       checkpoint_sha256=s and s.checkpoint_sha256, faithfulness=s and s.faithfulness,
                       target_label=getattr(s, "target_label", None) or planned_target_label(step, m),
                       image_id=m.image_id, image_sha256=getattr(s, "image_sha256", None),
                       photo_sha256=getattr(s, "photo_sha256", None),
                       convergence=getattr(s, "convergence", None), colours=getattr(s, "colours", None),
                       quality=getattr(s, "quality", None))
        for m, s in zip(step.maps, served, strict=True)
    )
    return ShownTrial(trial_index=step.trial, phase=step.phase, checkpoint_sha256=step.checkpoint_sha256,
                      image_sha256=step.image_sha256, target_index=step.target_index,
                      target_label=step.target_label, maps=records)
