"""Streamlit's own texts in the study's language: every text the page script translates is one Streamlit's
frontend really writes (a Streamlit upgrade that rewords one fails here), and each has its German; the study
file's language is read without opening the study (for the page shown when it cannot open)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import streamlit

from study_app.i18n import available_languages
from study_app.ui.language import file_language
from study_app.ui.page_language import STREAMLIT_TEXTS, streamlit_translations

BUNDLE = "\n".join(p.read_text(encoding="utf-8", errors="replace")
                   for p in (Path(streamlit.__file__).parent / "static" / "static" / "js").glob("*.js"))


@pytest.mark.parametrize("text", STREAMLIT_TEXTS)
def test_each_text_is_one_streamlit_writes(text):
    hint = re.fullmatch(r"Press (Enter|Ctrl\+Enter|⌘\+Enter) to (submit form|apply)", text)
    if hint:  # written from a template: `Press ${r()?`⌘`:`Ctrl`}+Enter to ${e}` and `Press Enter to ${e}`
        assert "`Press Enter to ${e}`" in BUNDLE and "+Enter to ${e}`" in BUNDLE and f"`{hint.group(2)}`" in BUNDLE
    else:
        assert f"`{text}`" in BUNDLE or f'"{text}"' in BUNDLE, f"Streamlit {streamlit.__version__} does not write {text!r}"


def test_german_translates_every_streamlit_text():
    assert set(streamlit_translations("de")) == set(STREAMLIT_TEXTS)
    assert streamlit_translations("en") == {}


def test_the_study_files_language_is_read_without_opening_it(tmp_path):
    assert "de" in available_languages()
    study = tmp_path / "study.toml"
    study.write_text('[study]\nlanguage = "de"\n[[tasks]]\ncheckpoint = "/nowhere"\n', encoding="utf-8")
    assert file_language(study) == "de"
    study.write_text('[study]\nlanguage = "xx"\n', encoding="utf-8")
    assert file_language(study) == "en"
    study.write_text("not = [toml", encoding="utf-8")
    assert file_language(study) == "en"
    assert file_language(tmp_path / "missing.toml") == "en"
