"""Participant-facing text in the study's language: gettext catalogues, read through Babel.

Every fixed sentence a participant can see (buttons, progress, errors, the end page, widget hints, the
default pre-questionnaire) is written in English in the code, marked for extraction (``_("...")``,
``ngettext(...)``, or ``N_("...")`` where it is defined away from where it is shown) and looked up in the
catalogue of the study's language (``[study] language = "de"``). The study's own texts (consent,
instructions, the researcher's questions) are the researcher's and never pass through here.

Catalogues are the ``.po`` files under ``locales/<language>/LC_MESSAGES/xai_study.po``; they are read at
run time (``read_po`` -> ``write_mo`` into memory -> :class:`gettext.GNUTranslations`), so no compiled
``.mo`` file is kept in the repository, and each language is read once per process. Placeholders are
``str.format`` names (``{total}``), never f-strings, so a translation may reorder them.

After changing participant-facing text, re-extract the template and update every catalogue (the exact
commands are at the top of ``babel.cfg``; ``pybabel extract -F babel.cfg ...`` then ``pybabel update ...``),
and translate what is new or marked fuzzy. A new language is one more folder: ``pybabel init -i
study_app/i18n/locales/xai_study.pot -d study_app/i18n/locales -D xai_study -l fr``; translate it, and
``language = "fr"`` works. ``tests/app/test_languages.py`` fails while any catalogue misses a message.
"""

from __future__ import annotations

import gettext
import io
import threading
from collections.abc import Callable
from pathlib import Path

from babel import Locale
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

DOMAIN = "xai_study"
DEFAULT_LANGUAGE = "en"
LOCALES = Path(__file__).resolve().parent / "locales"
TEMPLATE = LOCALES / f"{DOMAIN}.pot"


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark ``message`` for extraction without translating it; it is translated where it is shown."""
    return message


class UnknownLanguageError(LookupError):
    """No catalogue for the language; the message lists those there are."""

    def __init__(self, language: str):
        self.language = language
        super().__init__(f"no catalogue for language {language!r} (available: {', '.join(available_languages())})")


def available_languages() -> tuple[str, ...]:
    """The languages with a catalogue, sorted (``("de", "en")``)."""
    if not LOCALES.is_dir():
        return ()
    return tuple(sorted(p.name for p in LOCALES.iterdir() if catalog_path(p.name).is_file()))


def catalog_path(language: str) -> Path:
    return LOCALES / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(language: str) -> Catalog:
    """The language's catalogue as Babel reads it (every entry, translated or not, fuzzy or not)."""
    if not isinstance(language, str) or not language.replace("_", "").isalnum() or \
            not catalog_path(language).is_file():
        raise UnknownLanguageError(str(language))
    with catalog_path(language).open("rb") as f:
        return read_po(f, locale=language, domain=DOMAIN)


def _singular(message_id) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


class Translator:
    """One language's messages: ``gettext``, ``ngettext`` and the language's way of writing numbers.

    A message the catalogue does not know is returned as given (English); ``on_missing`` (for tests) is
    told about it. Immutable after construction, so one instance serves every session of a process.
    """

    def __init__(self, language: str, catalog: Catalog, on_missing: Callable[[str], None] | None = None):
        self.language = language
        self.locale = Locale.parse(language)
        buffer = io.BytesIO()
        write_mo(buffer, catalog)  # translated, non-fuzzy entries; an empty msgstr falls back to the msgid
        buffer.seek(0)
        self._translations = gettext.GNUTranslations(buffer)
        self._known = frozenset(_singular(m.id) for m in catalog if m.id)
        self._on_missing = on_missing

    def knows(self, message: str) -> bool:
        """Whether the catalogue has an entry for ``message`` (its singular form for plurals)."""
        return message in self._known

    def _check(self, message: str) -> None:
        if self._on_missing is not None and message not in self._known:
            self._on_missing(message)

    def gettext(self, message: str) -> str:
        self._check(message)
        return self._translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        """The form for ``n`` items by the catalogue's ``Plural-Forms`` (``n`` a whole number)."""
        self._check(singular)
        return self._translations.ngettext(singular, plural, n)

    def number(self, value: float) -> str:
        """``value`` as this language writes it (``2.5`` / ``2,5``); whole numbers without decimals."""
        return format_decimal(value, locale=self.locale)

    def percent(self, share: float) -> str:
        """``share`` (0..1) as a whole percentage: ``87%`` in English, ``87 %`` in German. Rounded exactly as
        Python's ``{:.0%}`` rounds, so the English text is what it always was."""
        whole = int(f"{share:.0%}"[:-1])
        return format_percent(whole / 100, locale=self.locale)


_translators: dict[str, Translator] = {}
_lock = threading.Lock()


def translator(language: str = DEFAULT_LANGUAGE) -> Translator:
    """The translator for ``language``, read once per process.

    Raises:
        UnknownLanguageError: there is no catalogue for ``language``.
    """
    found = _translators.get(language)
    if found is not None:
        return found
    with _lock:
        if language not in _translators:
            _translators[language] = Translator(language, read_catalog(language))
        return _translators[language]


__all__ = ["DEFAULT_LANGUAGE", "N_", "Translator", "UnknownLanguageError", "available_languages", "read_catalog",
           "translator"]
