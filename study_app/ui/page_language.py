"""The whole page in the study's language: ``<html lang>`` and the texts Streamlit's own frontend writes.

Streamlit's frontend is English only: "Skip to main content", "Fullscreen" on every picture, the hint under a
text box, the connection-error dialog, and ``lang="en"`` on the page, which makes a screen reader read German in
an English voice. :func:`page_language` draws an invisible component (``page_language.js``) that sets the
attribute and replaces each of :data:`STREAMLIT_TEXTS` by its translation from the study's catalogue, wherever
it appears as a whole text or as an aria-label, title or placeholder (or as its head before ": ", as in a
picture's "Fullscreen: ..." button), also when Streamlit draws it later (a dialog after the connection drops). The list is Streamlit 1.67's participant-visible strings, taken from its
frontend bundle; ``tests/e2e/test_german_walk_browser.py`` walks every protocol in German and fails on any
English string left on the page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from study_app.i18n import N_, translator

# Streamlit's own participant-visible texts (its frontend's exact English).
STREAMLIT_TEXTS = (
    N_("Skip to main content"),
    N_("Fullscreen"),
    N_("Close fullscreen"),
    N_("Exit fullscreen"),
    N_("Connection error"),
    N_("Streamlit server is not responding. Are you connected to the internet?"),
    N_("Connection lost. Please wait for the app to reconnect, then try again."),
    N_("Please wait..."),
    N_("Running..."),
    N_("Close"),
    N_("Dismiss"),
    N_("Main menu"),
    N_("Press Enter to submit form"),
    N_("Press Ctrl+Enter to submit form"),
    N_("Press ⌘+Enter to submit form"),
    N_("Press Enter to apply"),
    N_("Press Ctrl+Enter to apply"),
    N_("Press ⌘+Enter to apply"),
    N_("Choose an option"),
    N_("No results"),
    N_("Clear value"),
    N_("Clear all"),
    N_("Link to heading"),
    N_("Loading..."),
)

_JS = (Path(__file__).parent / "page_language.js").read_text(encoding="utf-8")
_component = st.components.v2.component("xai_study.page_language", js=_JS)


def streamlit_translations(language: str) -> dict[str, str]:
    """Streamlit's texts that read differently in ``language``: English -> translation."""
    gettext = translator(language).gettext
    return {text: gettext(text) for text in STREAMLIT_TEXTS if gettext(text) != text}


def page_language(language: str, key: str = "xai_page_language") -> None:
    """Draw the (invisible) script that puts the page in ``language``; once per script run."""
    _component(key=key, data={"lang": language, "texts": streamlit_translations(language)})
