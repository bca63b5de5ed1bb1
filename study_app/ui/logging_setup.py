"""Server log format for the study app: where tracebacks go instead of the participant's screen."""

from __future__ import annotations

import logging

_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(level: int = logging.INFO, *, page_timing: bool = False) -> None:
    """Attach one stderr handler to the ``study_app`` logger (idempotent across reruns). ``page_timing`` (the
    settings' ``page_timing``, ``$XAI_STUDY_TIMING``): log how long each participant page took to build."""
    logger = logging.getLogger("study_app")
    if not any(getattr(h, "_study_app", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(_FORMAT))
        handler._study_app = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
        logger.setLevel(level)
        logger.propagate = False
        if page_timing:
            logging.getLogger("study_app.timing").setLevel(logging.DEBUG)
