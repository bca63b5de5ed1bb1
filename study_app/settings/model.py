"""The resolved settings: one :class:`Setting` (value and where it came from) per setting, decided once.

A setting's ``value`` never appears in a repr, a log line or a table: :attr:`Setting.shown` is what may be
printed (``set (from …)`` for a secret, a database URL with its password masked).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from study_app.store.database import DB_URL_ENV
from study_app.study.id_key import ID_KEY_ENV, IN_DATABASE, SECRET_ID_KEY, IdKey, key_from_text

PROJECT_ROOT = Path(__file__).resolve().parents[2]
DEMO_STUDY = PROJECT_ROOT / "demo" / "study.toml"
EXAMPLE_STUDIES = PROJECT_ROOT / "examples" / "studies"

ENV_STUDY_FILE = "XAI_STUDY_FILE"
ENV_PASSWORD = "XAI_STUDY_RESEARCHER_PASSWORD"  # noqa: S105 - a variable name, not a password
ENV_REPLICAS = "XAI_STUDY_REPLICAS"  # set by `xai-study serve` on every replica it starts
ENV_COLD_START = "XAI_STUDY_COLD_START"  # "1": skip the warm-up at server start (benchmarks/first_visit.py)
ENV_TIMING = "XAI_STUDY_TIMING"  # "1": log how long each participant page took to build
SECRET_STUDY_FILE = "study_file"  # noqa: S105 - a key name
SECRET_PASSWORD = "researcher_password"  # noqa: S105 - a key name

# Where a value came from, as the settings table says it.
COMMAND_LINE = "command line"
SECRETS = "secrets.toml"
STUDY_FILE = "study file"
BUNDLED_DEMO = "bundled demo"
BUNDLED_EXAMPLE = "bundled example (demo/study.toml is not present yet)"
DEFAULT = "default"
GIVEN = "given by the caller"


def environment(variable: str) -> str:
    return f"environment {variable}"


def masked_url(url: str) -> str:
    """``url`` with any password masked, for messages, logs and the settings table."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is reported where it is used; never print it whole
        return "(unparsable database URL)"


@dataclass(frozen=True)
class Setting:
    """One setting: its name, its value (never printed), where it came from and what may be shown of it."""

    name: str
    value: Any = field(repr=False)
    source: str
    shown: str

    @classmethod
    def secret(cls, name: str, value: str | None, source: str, unset: str = "not set") -> Setting:
        return cls(name, value, source, f"set (from {source})" if value else unset)


@dataclass(frozen=True)
class DatabaseChoice:
    """The database the app or a command uses, and the study file whose folder the default came from."""

    url: str
    study_file: Path

    @property
    def shown(self) -> str:
        """The URL with any password masked, for messages and logs."""
        return masked_url(self.url)

    def describe(self) -> str:
        return f"database: {self.shown} (study file {self.study_file})"


@dataclass(frozen=True)
class Settings:
    """Every setting of the app and the commands, resolved once by :func:`study_app.settings.resolve`."""

    study: Setting      # Path of the study file that runs
    password: Setting   # the researcher password (str) or None
    database: Setting   # the SQLAlchemy URL
    cache: Setting      # Path of the attribution cache folder
    id_key: Setting     # the external-id key's configured text, or None (created when a study needs it)
    replicas: Setting   # int: processes serving the study
    warm_start: Setting  # bool: load study, models and maps before the server answers (study_app.ui.warm_start)
    page_timing: Setting  # bool: log each participant page's build time (study_app.ui.logging_setup)

    @classmethod
    def given(cls, study_file: str | Path, researcher_password: str | None = None, **resolved) -> Settings:
        """Settings for ``study_file`` with this password (``None``: none), the rest resolved from
        ``resolved`` (:func:`~study_app.settings.resolve`'s keywords; no secrets file unless ``secrets`` is
        given). For callers and tests that name the study and the password themselves."""
        from study_app.settings.resolve import resolve  # noqa: PLC0415 - cycle: resolve builds Settings

        settings = resolve(study=study_file, **{"secrets": {}, **resolved})
        return replace(settings, password=Setting.secret("researcher password", researcher_password, GIVEN))

    # -- the values, as callers use them ------------------------------------------------------------------
    @property
    def study_file(self) -> Path:
        return self.study.value

    @property
    def source(self) -> str:
        """Where the study file came from (:data:`COMMAND_LINE`, ``environment …``, :data:`SECRETS`,
        :data:`BUNDLED_DEMO`, :data:`BUNDLED_EXAMPLE`)."""
        return self.study.source

    @property
    def researcher_password(self) -> str | None:
        return self.password.value

    @property
    def db_url(self) -> str:
        return self.database.value

    @property
    def database_choice(self) -> DatabaseChoice:
        return DatabaseChoice(self.database.value, self.study_file)

    @property
    def cache_dir(self) -> Path:
        return self.cache.value

    @property
    def id_key_in_database(self) -> bool:
        return bool(self.id_key.value) and self.id_key.value.strip().lower() == IN_DATABASE

    def engine_id_key(self) -> IdKey | None:
        """The configured external-id key for the study engine; ``None`` when none is configured (the engine
        then creates one in ``.streamlit/secrets.toml`` if the study needs it: :mod:`study_app.study.id_key`)."""
        if not self.id_key.value:
            return None
        return key_from_text(self.id_key.value, "environment" if ID_KEY_ENV in self.id_key.source else "secrets")

    @property
    def is_bundled_demo(self) -> bool:
        """The demo (or its stand-in example) may run without a configured password: see the gate. Named
        explicitly (``--study demo/study.toml``, ``XAI_STUDY_FILE``) it is still the demo."""
        return is_demo(self.study)

    @property
    def source_note(self) -> str:
        if self.source == BUNDLED_DEMO:
            return "the bundled demo study (no study file configured)"
        if self.source == BUNDLED_EXAMPLE:
            return ("no study file configured and the bundled demo (demo/study.toml) is not present yet: "
                    "running an example study instead")
        if self.source == COMMAND_LINE:
            return "study file from the command line (--study)"
        if self.source == SECRETS:
            return f"study file from secrets.toml key '{SECRET_STUDY_FILE}'"
        return f"study file from {self.source}"

    # -- the table ------------------------------------------------------------------------------------------
    def rows(self) -> tuple[Setting, ...]:
        return (self.study, self.password, self.database, self.cache, self.id_key, self.replicas,
                self.warm_start, self.page_timing)

    def table(self) -> list[dict[str, str]]:
        """``setting``, ``value`` (as shown: never a secret) and ``source`` of every setting."""
        return [{"setting": s.name, "value": s.shown, "source": s.source} for s in self.rows()]

    def format_table(self) -> str:
        """One line per setting: name, value as shown, and its source in brackets."""
        width = max(len(s.name) for s in self.rows())
        return "\n".join(f"  {s.name:<{width}}  {s.shown}  [{s.source}]" for s in self.rows())


def is_demo(study: Setting) -> bool:
    """Whether the study file setting names the bundled demo (or its stand-in example)."""
    return study.source in (BUNDLED_DEMO, BUNDLED_EXAMPLE) or Path(study.value).resolve() == DEMO_STUDY.resolve()


def id_key_setting(value: str | None, source: str) -> Setting:
    name = "external-id key"
    if value and value.strip().lower() == IN_DATABASE:
        return Setting(name, value, source, "database (the key studies begun before revision 0002 keep)")
    return Setting.secret(name, value, source, unset=f"not set: created as {SECRET_ID_KEY} in .streamlit/"
                                                     "secrets.toml when a study that hashes Prolific ids opens")


def database_setting(url: str, source: str) -> Setting:
    return Setting("database", url, source, masked_url(url))


__all__ = ["BUNDLED_DEMO", "BUNDLED_EXAMPLE", "COMMAND_LINE", "DB_URL_ENV", "DEFAULT", "DEMO_STUDY", "ENV_COLD_START",
           "ENV_PASSWORD", "ENV_REPLICAS", "ENV_TIMING", "ENV_STUDY_FILE", "EXAMPLE_STUDIES", "GIVEN", "PROJECT_ROOT", "SECRETS",
           "SECRET_PASSWORD", "SECRET_STUDY_FILE", "STUDY_FILE", "DatabaseChoice", "Setting", "Settings",
           "database_setting", "environment", "id_key_setting", "is_demo", "masked_url"]
