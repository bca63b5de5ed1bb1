"""Warm a server before it answers anyone: the study, its models and maps are loaded at start.

Streamlit runs no app code before the first browser session, so without this the first participant after a
start waited on a blank page while the process imported torch, ran the models and rendered the maps (8–46 s
in the launch rehearsal), although the health check had long said ``ok``. ``study_app/main.py`` therefore
serves the app as an ``st.App`` whose lifespan is :func:`warm_lifespan`: Streamlit starts its runtime, this
module fills the very ``st.cache_resource`` entries the participant page reads (:mod:`study_app.ui.resources`),
and only then does the server answer requests, ``/_stcore/health`` included. Both ``streamlit run
study_app/main.py`` and every ``xai-study serve`` replica start this way, so a health check that passes means
a warm server.

A study that cannot be opened (a broken file, a missing checkpoint, an unreachable database) is logged here,
at start, in one line naming the file and every field at fault; the server still starts, so that the
researcher area can show the same reason, and participants get the friendly "study unavailable" page.
"""

from __future__ import annotations

import importlib
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager
from pathlib import Path

from study_app.serve.warm_log import WARM_DONE, WARM_FAILED
from study_app.settings import ENV_COLD_START, Settings
from study_app.study.errors import StudyFileError
from study_app.ui.logging_setup import configure_logging
from study_app.ui.password_gate import announce_demo_password
from study_app.ui.resources import StudyUnavailable, app_settings, open_study_engine

log = logging.getLogger("study_app.warm_start")

COLD_START_ENV = ENV_COLD_START  # the settings' warm_start (benchmarks/first_visit.py sets it)
SCRIPT_RUN_CONTEXT_LOGGER = "streamlit.runtime.scriptrunner_utils.script_run_context"


def describe_study_error(study_file: Path, exc: BaseException) -> str:
    """One line for the log: which file, and every field at fault (or what else went wrong)."""
    if isinstance(exc, StudyFileError):
        problems = exc.problems_found
        listed = "; ".join(_one_line(f"{p.field or '(file)'}: {p.message}") for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        return f"{WARM_FAILED}: {exc.source or study_file}: {len(problems)} {noun}: {listed}"
    return f"{WARM_FAILED}: {study_file}: {type(exc).__name__}: {_one_line(str(exc))}"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def warm_up(preload: Sequence[str] = (), settings: Settings | None = None) -> bool:
    """Load everything a participant's first page needs; ``True`` when the study opened.

    ``preload``: modules the pages import (named by ``main.py``, which may import them; this layer may not),
    imported here so that the first page's script run finds them loaded.
    """
    start = time.perf_counter()
    try:
        settings = settings or app_settings()
    except StudyUnavailable as exc:  # a setting cannot be decided (an unreadable secrets.toml)
        configure_logging()
        log.error("%s", exc)  # noqa: TRY400 - one line, no traceback
        return False
    configure_logging(page_timing=settings.page_timing.value)
    with _no_session_warnings():
        announce_demo_password()
        for name in preload:
            importlib.import_module(name)
        try:
            engine = open_study_engine(settings)
        except Exception as exc:  # noqa: BLE001 - whatever stops the study is logged; the server still starts
            log.error("%s", describe_study_error(settings.study_file, exc))  # noqa: TRY400 - one line, no traceback
            log.debug("the study failed to open", exc_info=True)
            return False
    log.info("%s: study %r from %s in %.1f s", WARM_DONE, engine.study.id, settings.study_file,
             time.perf_counter() - start)
    return True


@contextmanager
def _no_session_warnings() -> Iterator[None]:
    """Streamlit warns "missing ScriptRunContext" whenever a cached function runs outside a session (its
    spinner has no page to draw on); outside a session is exactly where the warm-up runs."""
    logger = logging.getLogger(SCRIPT_RUN_CONTEXT_LOGGER)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def warm_lifespan(preload: Sequence[str] = ()) -> Callable[[object], AbstractAsyncContextManager[None]]:
    """An ``st.App`` lifespan that warms the process before the server answers its first request.

    It runs in the server's event loop before uvicorn serves anything; blocking it is the point (no request,
    health check included, is answered meanwhile). ``XAI_STUDY_COLD_START=1`` starts cold (the old
    behaviour, for ``benchmarks/first_visit.py``).
    """

    @asynccontextmanager
    async def lifespan(_app: object) -> AsyncIterator[None]:
        try:
            settings = app_settings()
        except StudyUnavailable:
            settings = None  # warm_up logs why
        if settings is None or settings.warm_start.value:
            warm_up(preload, settings)
        else:
            configure_logging(page_timing=settings.page_timing.value)
            log.info("warm: skipped (%s=1): the first visitor pays for loading the study", COLD_START_ENV)
        yield

    return lifespan
