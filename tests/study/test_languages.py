"""The message catalogues are complete: every participant-facing msgid in the source is in every catalogue,
translated (not empty, not fuzzy) in every language but English, with all plural forms and no unknown
placeholder; the template is what ``pybabel extract -F babel.cfg`` makes today; the study file picks the
language and refuses one without a catalogue, naming the field."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from study.kit import write_study
from study_app.i18n import DEFAULT_LANGUAGE, TEMPLATE, available_languages, read_catalog, translator
from study_app.study import StudyFileError
from study_app.study.parser import parse_study
from study_app.study.schema import DEFAULT_PRE_QUESTIONNAIRE

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"\{(\w+)\}")


def _extracted() -> dict[str, dict]:
    """msgid (singular) -> {"plural": bool, "fields": placeholders the code may fill}, from the source."""
    found: dict[str, dict] = {}
    for _filename, _lineno, message, comments, _context in extract_from_dir(
            str(ROOT / "study_app"), method_map=[("**.py", "python")], comment_tags=("TRANSLATORS:",)):
        singular = message if isinstance(message, str) else message[0]
        if not singular:
            continue
        texts = [message] if isinstance(message, str) else [m for m in message if m]
        # A translator comment may offer more fields than the English text uses (see design.py).
        fields = {f for t in [*texts, *comments] for f in PLACEHOLDER.findall(t)}
        entry = found.setdefault(singular, {"plural": False, "fields": set()})
        entry["plural"] |= not isinstance(message, str)
        entry["fields"] |= fields
    return found


EXTRACTED = _extracted()


def test_the_source_has_participant_text_to_translate():
    assert len(EXTRACTED) > 80
    assert "I agree — start the study" in EXTRACTED  # UI
    assert "What is your age?" in EXTRACTED  # the default pre-questionnaire (study layer)
    assert any(EXTRACTED[m]["plural"] for m in EXTRACTED), "at least one plural message"


def test_english_and_german_are_shipped():
    assert {"en", "de"} <= set(available_languages())
    assert DEFAULT_LANGUAGE == "en"


@pytest.mark.parametrize("language", available_languages())
def test_every_catalogue_has_every_message_and_nothing_stale(language):
    catalog = read_catalog(language)
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in catalog if m.id}
    assert not set(EXTRACTED) - ids, f"{language}: missing {sorted(set(EXTRACTED) - ids)}"
    assert not ids - set(EXTRACTED), f"{language}: no longer in the source {sorted(ids - set(EXTRACTED))}"


@pytest.mark.parametrize("language", [lang for lang in available_languages() if lang != "en"])
def test_every_message_is_translated_with_every_plural_form(language):
    catalog = read_catalog(language)
    assert catalog.num_plurals >= 1
    problems = []
    for m in catalog:
        if not m.id:
            continue
        singular = m.id if isinstance(m.id, str) else m.id[0]
        strings = list(m.string) if isinstance(m.string, tuple | list) else [m.string]
        if m.fuzzy:
            problems.append(f"fuzzy: {singular!r}")
        if not all(s and s.strip() for s in strings):
            problems.append(f"untranslated: {singular!r}")
        if EXTRACTED.get(singular, {}).get("plural"):
            if not m.pluralizable or len(strings) != catalog.num_plurals:
                problems.append(f"needs {catalog.num_plurals} plural forms: {singular!r}")
        unknown = {f for s in strings for f in PLACEHOLDER.findall(s or "")} - EXTRACTED.get(singular, {}).get(
            "fields", set())
        if unknown:
            problems.append(f"placeholders the code does not fill {sorted(unknown)}: {singular!r}")
    assert not problems, "\n".join(problems)


def test_german_plural_forms_and_numbers():
    de = translator("de")
    assert read_catalog("de").plural_forms == "nplurals=2; plural=(n != 1);"
    one, many = ("You will be returned to Prolific in {seconds} second. If nothing happens, use the button below.",
                 "You will be returned to Prolific in {seconds} seconds. If nothing happens, use the button below.")
    assert "in {seconds} Sekunde zu" in de.ngettext(one, many, 1)
    assert "in {seconds} Sekunden zu" in de.ngettext(one, many, 5)
    assert de.number(2.5) == "2,5" and de.percent(0.874) == "87\xa0%"
    en = translator("en")
    assert en.ngettext(one, many, 1) == one and en.ngettext(one, many, 2) == many
    assert [en.percent(p) for p in (0.0, 0.125, 0.295, 0.874, 1.0)] == [f"{p:.0%}" for p in (0.0, 0.125, 0.295, 0.874, 1.0)]


def test_english_text_is_the_source_text():
    en = translator("en")
    assert all(en.gettext(m) == m for m, info in EXTRACTED.items() if not info["plural"])


def test_the_template_is_what_babel_cfg_extracts_today(tmp_path):
    """The documented command works, and the committed template is up to date with the source."""
    out = tmp_path / "fresh.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "-o", str(out),
                    "--no-location", "--sort-output", "--add-comments", "TRANSLATORS:", "."],
                   cwd=ROOT, check=True, capture_output=True, timeout=120)

    def ids(path: Path) -> set:
        with path.open("rb") as f:
            return {m.id for m in read_po(f) if m.id}

    assert ids(out) == ids(TEMPLATE)
    assert set(EXTRACTED) == {i if isinstance(i, str) else i[0] for i in ids(TEMPLATE)}


@pytest.fixture
def study_data(tmp_path, checkpoint_dir, stimuli_dir):
    def make(**study_keys) -> dict:
        data = tomllib.loads(write_study(tmp_path, "rate", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                                         negative="gradcam").read_text())
        data["study"].update(study_keys)
        return data

    return make


def test_an_unknown_language_is_refused_naming_the_field_and_the_choices(study_data):
    with pytest.raises(StudyFileError) as err:
        parse_study(study_data(language="xx"), "s.toml")
    assert err.value.field == "study.language"
    assert "'xx'" in str(err.value) and "de, en" in str(err.value)
    with pytest.raises(StudyFileError) as err:
        parse_study(study_data(language="../de"), "s.toml")
    assert err.value.field == "study.language"


def test_the_language_defaults_to_english_and_keeps_the_english_text(study_data):
    study = parse_study(study_data(), "s.toml")
    assert study.language == "en"
    assert study.pre_questionnaire == DEFAULT_PRE_QUESTIONNAIRE
    assert study.methods[-1].label == "Grad-CAM (random model)"


def test_a_german_study_writes_the_text_our_code_supplies_in_german(study_data):
    study = parse_study(study_data(language="de", blind_method_names=False), "s.toml")
    assert study.language == "de"
    assert [q.text for q in study.pre_questionnaire][0] == "Wie alt sind Sie?"
    assert "keine Angabe" in study.pre_questionnaire[0].options
    assert study.methods[-1].label == "Grad-CAM (Zufallsmodell)"
    assert study.consent == study_data()["study"]["consent"], "the researcher's own text is left alone"
    blind = parse_study(study_data(language="de", blind_method_names=True), "s.toml")
    assert [m.label for m in blind.methods] == ["Erklärung A", "Erklärung B", "Erklärung C"]
