"""Every setting of the app and the commands, decided once, with where it came from.

:func:`resolve` reads the command line's values, the environment, ``secrets.toml`` (through
:mod:`study_app.store.secrets_file`, the one reader) and the study file, and returns a frozen
:class:`Settings`: one :class:`Setting` (name, value, source, what may be shown) per setting. The app, every
command and ``xai-study check`` take their values from it and pass them on as arguments; ``check`` and the
researcher's Readiness page print its table (never a secret's value). Plain Python, no Streamlit.
"""

from study_app.settings.model import (
    BUNDLED_DEMO,
    BUNDLED_EXAMPLE,
    COMMAND_LINE,
    DEFAULT,
    DEMO_STUDY,
    ENV_COLD_START,
    ENV_PASSWORD,
    ENV_REPLICAS,
    ENV_STUDY_FILE,
    ENV_TIMING,
    EXAMPLE_STUDIES,
    GIVEN,
    PROJECT_ROOT,
    SECRET_PASSWORD,
    SECRET_STUDY_FILE,
    SECRETS,
    STUDY_FILE,
    DatabaseChoice,
    Setting,
    Settings,
    environment,
    masked_url,
)
from study_app.settings.passwords import MIN_PASSWORD_LENGTH, PLACEHOLDER_PASSWORDS, password_problem
from study_app.settings.resolve import (
    SettingsError,
    database_for,
    resolve,
    resolve_database,
    resolve_settings,
    study_from_argv,
)
from study_app.store.secrets_file import SECRETS_FILE, read_secrets_file

__all__ = [
    "BUNDLED_DEMO", "BUNDLED_EXAMPLE", "COMMAND_LINE", "DEFAULT", "DEMO_STUDY", "ENV_COLD_START", "ENV_PASSWORD",
    "ENV_REPLICAS", "ENV_STUDY_FILE", "ENV_TIMING", "EXAMPLE_STUDIES", "GIVEN", "MIN_PASSWORD_LENGTH", "PLACEHOLDER_PASSWORDS", "PROJECT_ROOT",
    "SECRETS", "SECRETS_FILE", "SECRET_PASSWORD", "SECRET_STUDY_FILE", "STUDY_FILE",
    "DatabaseChoice", "Setting", "Settings", "SettingsError", "database_for", "environment", "masked_url",
    "password_problem", "read_secrets_file", "resolve", "resolve_database", "resolve_settings", "study_from_argv",
]
