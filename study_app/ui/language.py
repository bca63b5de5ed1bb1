"""The participant's language in the UI: ``_`` and ``ngettext`` look up the current session's study language.

The participant page records the study's language in the session (:func:`use_language`, once per run, as
soon as the study is open); every call then translates through that language's catalogue
(:func:`study_app.i18n.translator`). The language lives in ``st.session_state``, which is per session, so
sessions of different studies or languages in one server process never see each other's choice, and submit
callbacks (which run before the page script) see the language of the page the participant submitted.
Before a study is open (the "not available" page) the text is English.
"""

from __future__ import annotations

import streamlit as st

from study_app.i18n import DEFAULT_LANGUAGE, N_, Translator, translator
from study_app.ui.state_keys import LANGUAGE

TAB_TITLE = N_("Study")  # the browser tab's title; the router sets it in English before a study is open


def use_language(language: str) -> None:
    """Show this session's participant text in ``language`` from now on (the browser tab's title too)."""
    if st.session_state.get(LANGUAGE) != language:
        st.session_state[LANGUAGE] = language
    if language != DEFAULT_LANGUAGE:  # an English study keeps the router's title: no extra message per click
        st.set_page_config(page_title=_(TAB_TITLE))


def current() -> Translator:
    """The translator of this session's study language."""
    return translator(st.session_state.get(LANGUAGE, DEFAULT_LANGUAGE))


def _(message: str) -> str:
    """``message`` in the session's language (the English text when the catalogue has no translation)."""
    return current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current().ngettext(singular, plural, n)
