"""Server log format for the study app: where tracebacks go instead of the participant's screen."""

from __future__ import annotations

import logging
import os

TIMING_ENV = "XAI_STUDY_TIMING"  # set to 1: log how long each participant page took to build

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO) -> None:
    """Attach one stderr handler to the ``study_app`` logger (idempotent across reruns)."""
    logger = logging.getLogger("study_app")
    if not any(getattr(h, "_study_app", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._study_app = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
        if os.environ.get(TIMING_ENV, "").strip() not in ("", "0"):
            logging.getLogger("study_app.timing").setLevel(logging.DEBUG)
