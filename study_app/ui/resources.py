"""Shared, read-only resources, loaded once per server process with ``st.cache_resource``.

Everything here is shared by all participants, so nothing here holds per-participant state: the engine
keeps progress in the database, models are only read, and the explanation service serialises live
attribution on a shared model itself.
"""

from __future__ import annotations

import gc
import logging
import sys
import time

import streamlit as st

from study_app.maps.coverage import warm_rendered_maps
from study_app.maps.service import StudyMapService, make_map_service
from study_app.settings import Settings, SettingsError, resolve, study_from_argv
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, load_study
from trainers.checkpoint import read_card

log = logging.getLogger("study_app.resources")


class StudyUnavailable(RuntimeError):
    """The study cannot be opened (bad file, missing checkpoint, database down); details are in the log."""


def app_settings() -> Settings:
    """Every setting of this server (:func:`study_app.settings.resolve`: ``-- --study FILE``, the
    environment, ``secrets.toml``, the study file); the pages pass its values on. Raises
    :class:`StudyUnavailable` when a setting cannot be decided (an unreadable ``secrets.toml``)."""
    try:
        return resolve(study=study_from_argv(sys.argv[1:]))
    except SettingsError as exc:
        raise StudyUnavailable(str(exc)) from exc


@st.cache_resource(show_spinner=False, max_entries=4)
def _map_service_for(cache_dir: str, colours: str, language: str = "en", wording: tuple = ()) -> StudyMapService:
    """One map service per cache folder and study look: colours, and the language and class wording panels
    are drawn in (``wording``: ``(checkpoint, ((class, label), ...))`` pairs, hashable for the cache)."""
    return make_map_service(cache_dir, colours, language, {ckpt: dict(labels) for ckpt, labels in wording})


def _study_look(study) -> tuple:
    """The arguments of :func:`_map_service_for` that come from the study file."""
    wording = tuple((t.checkpoint, tuple(sorted(t.class_labels.items()))) for t in study.tasks)
    return study.map_colours, study.language, wording


@st.cache_resource(show_spinner="Opening the study…", max_entries=4)
def _open_engine(study_file: str, db_url: str, cache_dir: str, _settings: Settings):
    study = load_study(study_file)
    # The cache folder comes from the settings and is passed to the map service; the engine records what that
    # service serves when a trial is shown.
    maps = _map_service_for(cache_dir, *_study_look(study))  # drawn in the study's colours, language and wording
    # The Prolific-id key as the settings found it; none configured: created in secrets.toml if the study
    # needs one (study_app.study.id_key).
    engine = StudyEngine(study, Repository(make_engine(db_url)), id_key=_settings.engine_id_key(), secrets={},
                         maps=maps)
    log.info("study %r (%s) opened; %d task(s); database %s; maps in %s", study.id, study.sha256[:12],
             len(study.tasks), engine.repository.dialect, maps.service.cache.root)
    # In the opening run itself (once per process, behind the spinner), not in a background thread: a
    # thread still inside torch when the interpreter exits aborts the process.
    _warm_maps(engine, maps)
    freeze_loaded_heap()
    return engine


def study_map_service() -> StudyMapService:
    """The open study's map service (the same object the engine was opened with)."""
    engine = study_engine()
    return _map_service_for(str(app_settings().cache_dir), *_study_look(engine.study))


def freeze_loaded_heap() -> None:
    """Move everything loaded so far (torch, Captum, models, rendered maps) out of the garbage collector's
    reach. These objects live as long as the process, yet every full collection would walk all of them
    again; after ``gc.freeze()`` a collection only looks at what participants' script runs create."""
    gc.collect()
    gc.freeze()
    log.info("long-lived heap frozen for the garbage collector: %d objects", gc.get_freeze_count())


def _warm_maps(engine, service) -> None:
    """Render the study's cached maps once, so no participant pays the first render."""
    try:
        start = time.perf_counter()
        rendered, missing = warm_rendered_maps(engine.study, service, engine.predictions)
        log.info("maps ready in memory: %d rendered, %d not precomputed (%.1f s)", rendered, missing,
                 time.perf_counter() - start)
    except Exception:
        log.exception("warming the map cache failed (maps will be rendered on first use)")


def study_engine():
    """The study's engine, shared by every session; raises :class:`StudyUnavailable` when it cannot open."""
    settings = app_settings()
    try:
        return open_study_engine(settings)
    except Exception as exc:
        log.exception("cannot open study %s", settings.study_file)
        raise StudyUnavailable(str(exc)) from exc


def open_study_engine(settings: Settings):
    """Open (or find open) the study's engine, as the participant page will; raises what went wrong. The
    server calls this at start (:mod:`study_app.ui.warm_start`), so the cache entry below is filled before
    anyone connects."""
    return _open_engine(str(settings.study_file), settings.db_url, str(settings.cache_dir), settings)


def study_error(settings: Settings) -> str | None:
    """Why the study cannot be opened, for the researcher, or ``None`` when it opens."""
    try:
        open_study_engine(settings)
    except Exception as exc:  # noqa: BLE001 - shown to the researcher as is
        return f"{type(exc).__name__}: {exc}"
    return None


@st.cache_resource(show_spinner=False, max_entries=32)
def _card(checkpoint_dir: str) -> dict:
    return read_card(checkpoint_dir)


def checkpoint_input_size(checkpoint_dir: str) -> int:
    """The model's input size, to crop the picture exactly as the model (and the map) saw it."""
    return int(_card(checkpoint_dir)["input_size"])
