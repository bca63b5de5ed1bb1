"""The participant's language in the UI: ``_`` and ``ngettext`` look up the current session's study language.

The participant page records the study's language in the session (:func:`use_language`, once per run, as
soon as the study is open); every call then translates through that language's catalogue
(:func:`study_app.i18n.translator`). The language lives in ``st.session_state``, which is per session, so
sessions of different studies or languages in one server process never see each other's choice, and submit
callbacks (which run before the page script) see the language of the page the participant submitted.
When the study cannot open (the "not available" page), the text is in the language its file names, read
without opening the study (:func:`file_language`; English when even that fails). The page itself, ``<html
lang>`` and Streamlit's own texts, follows the same language (:mod:`study_app.ui.page_language`).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from study_app.i18n import DEFAULT_LANGUAGE, N_, Translator, available_languages, translator
from study_app.study.study_file import read_study_file
from study_app.ui.page_language import page_language
from study_app.ui.state_keys import LANGUAGE

TAB_TITLE = N_("Study")  # the browser tab's title; the router sets it in English before a study is open


def use_language(language: str) -> None:
    """Show this session's participant text in ``language`` from now on (the browser tab's title too)."""
    if st.session_state.get(LANGUAGE) != language:
        st.session_state[LANGUAGE] = language
    if language != DEFAULT_LANGUAGE:  # an English study keeps the router's title and Streamlit's English page
        st.set_page_config(page_title=_(TAB_TITLE))
        page_language(language)


def file_language(study_file: str | Path | None) -> str:
    """The ``[study] language`` a study file names, read as TOML only (for a page shown when the study cannot
    open); English when the file cannot be read or names no available language."""
    try:
        language = read_study_file(study_file).study_table.get("language")
    except (TypeError, ValueError):  # no file given, or one that cannot be read (StudyFileError)
        return DEFAULT_LANGUAGE
    return language if isinstance(language, str) and language in available_languages() else DEFAULT_LANGUAGE


def current() -> Translator:
    """The translator of this session's study language."""
    return translator(st.session_state.get(LANGUAGE, DEFAULT_LANGUAGE))


def _(message: str) -> str:
    """``message`` in the session's language (the English text when the catalogue has no translation)."""
    return current().gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return current().ngettext(singular, plural, n)
