"""A panel (similar examples, prediction grid, concepts) served like a map: one picture, its alt text and provenance.

The map service hands a request whose method is a panel kind (:func:`study_app.explain.panels.is_panel`) to
:func:`serve_panel`: the panel is computed or read back (:func:`study_app.explain.panel_service.compute_panel`),
drawn in the study's language with the task's class wording (:func:`study_app.explain.panel_render.render_panel`)
and returned as a :class:`~study_app.maps.service.ServedMap` whose ``map_sha256`` is the hash of what the panel
shows (examples or concept scores) and whose ``quality`` holds its quality figures (exported beside the answers,
as faithfulness is for maps).
"""

from __future__ import annotations

import hashlib

from study_app.explain.cache import file_content_sha256
from study_app.explain.panel_render import render_panel
from study_app.explain.panel_service import compute_panel
from study_app.i18n import translator
from trainers.checkpoint import LoadedCheckpoint


def serve_panel(service, ckpt: LoadedCheckpoint, request):
    """The served panel of ``request`` (a ``MapRequest``) for the map ``service`` (a ``StudyMapService``)."""
    from study_app.maps.service import ServedMap  # cycle: the service module imports this one

    outcome = compute_panel(ckpt, request.image_path, request.method, dict(request.params), request.target_index,
                            request.per_class, service.cache_dir)
    wording = service.wording_for(request.checkpoint)
    gettext = translator(service.language).gettext if service.language else (lambda s: s)
    rendered = render_panel(outcome.result, outcome.explained, wording, gettext)
    return ServedMap(
        png=rendered.png, alt_text=rendered.alt_text, description=rendered.description,
        png_sha256=hashlib.sha256(rendered.png).hexdigest(), cache_key=outcome.key, map_sha256=outcome.result_sha256,
        checkpoint_sha256=ckpt.sha256, image_sha256=file_content_sha256(request.image_path),
        photo_sha256=file_content_sha256(request.drawn_over), target_index=request.target_index,
        target_label=outcome.explained, faithfulness=None, convergence=None, colours=None,
        quality=dict(outcome.quality),
    )
