"""Participants never see a traceback: failures become a short, kind message; details go to the log.

``client.showErrorDetails = "none"`` in ``.streamlit/config.toml`` is the server-wide backstop; this
context manager is the first line, so that a page can say something useful instead of a generic error.
Streamlit's own control flow (``st.rerun``, ``st.stop``) derives from ``BaseException`` and passes through.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import streamlit as st

from study_app.i18n import N_
from study_app.ui.language import _

log = logging.getLogger("study_app.errors")

PARTICIPANT_MESSAGE = N_(
    "Sorry, something went wrong on our side. Your answers so far are saved. "
    "Please reload the page in a moment; if this keeps happening, contact the research team "
    "and quote reference **{ref}**."
)  # translated when shown, into the session's language


@contextmanager
def friendly_errors(message: str = PARTICIPANT_MESSAGE) -> Iterator[None]:
    """Turn an exception into ``message`` (an ``N_``-marked text with ``{ref}``, shown translated)."""
    try:
        yield
    except Exception:
        ref = secrets.token_hex(4)
        log.exception("unhandled error (reference %s)", ref)
        st.error(_(message).format(ref=ref), icon=":material/error:")
