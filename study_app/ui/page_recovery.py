"""Recovery from a page whose browser could not load one of Streamlit's code chunks.

Streamlit fetches a widget's code the first time a page uses it. When that fetch fails (a crowd of browsers
on a busy server or network), the widget's place shows "Failed to fetch dynamically imported module" and
a participant has no answer buttons until they reload. :func:`chunk_recovery` draws an invisible component
on every page (``study_app/main.py``) whose script (``chunk_recovery.js``) reloads the page by itself, with
the same address: the token in it resumes the participant at the same screen. The script is loaded once
per page load; it cannot help when the chunk that fails is the components' own (then the page works
without it, as before).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

_JS = (Path(__file__).parent / "chunk_recovery.js").read_text(encoding="utf-8")
_recovery = st.components.v2.component("xai_study.chunk_recovery", js=_JS)


def chunk_recovery(key: str = "xai_chunk_recovery") -> None:
    """Draw the (invisible) recovery script; once per script run, on every page."""
    _recovery(key=key)
