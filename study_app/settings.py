"""Which study file runs and which password opens the researcher area. Plain Python, no Streamlit.

Shared by the app (which passes ``st.secrets``) and by ``xai-study check`` (which reads
``.streamlit/secrets.toml`` itself), so both see the same study and judge it the same way.
Precedence: ``streamlit run study_app/main.py -- --study FILE``, then the environment variable, then
``secrets.toml``, then the bundled demo study. The database is decided for the app and every command by
:func:`database_for` / :func:`resolve_database`: ``--db``, ``XAI_STUDY_DB_URL``, ``db_url`` in
``secrets.toml``, else ``responses.sqlite`` beside the study file that runs (rule of
:func:`study_app.store.database.resolve_db_url`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url

from study_app.store.database import SECRETS_FILE, resolve_db_url

PROJECT_ROOT = Path(__file__).resolve().parents[1]
DEMO_STUDY = PROJECT_ROOT / "demo" / "study.toml"
EXAMPLE_STUDIES = PROJECT_ROOT / "examples" / "studies"

ENV_STUDY_FILE = "XAI_STUDY_FILE"
ENV_PASSWORD = "XAI_STUDY_RESEARCHER_PASSWORD"  # noqa: S105 - a variable name, not a password
SECRET_STUDY_FILE = "study_file"  # noqa: S105 - a key name
SECRET_PASSWORD = "researcher_password"  # noqa: S105 - a key name
ENV_REPLICAS = "XAI_STUDY_REPLICAS"  # set by `xai-study serve` on every replica it starts


MIN_PASSWORD_LENGTH = 12
# Passwords that documentation shows as examples, and the usual defaults: never accepted as the real one.
PLACEHOLDER_PASSWORDS = frozenset({
    "pick a long password", "change-me-to-a-long-random-string", "a long password", "a-long-random-password",
    "password", "passwort", "changeme", "change-me", "change me", "secret", "admin", "researcher", "abc",
    "123456", "letmein", "qwerty",
})


def password_problem(password: str | None) -> str | None:
    """Why ``password`` cannot open the researcher area (``None``: it can, or none is set). The one rule for
    ``xai-study check``, the login form and ``xai-study serve``: not a documentation example or a common
    default, and at least :data:`MIN_PASSWORD_LENGTH` characters."""
    if not password:
        return None
    if " ".join(password.casefold().split()) in PLACEHOLDER_PASSWORDS:
        return "it is an example or default password from the documentation; choose your own"
    if len(password) < MIN_PASSWORD_LENGTH:
        return f"it is {len(password)} characters long; use at least {MIN_PASSWORD_LENGTH}"
    return None


@dataclass(frozen=True)
class AppSettings:
    study_file: Path
    source: str  # "command line", "environment", "secrets", "demo" or "example"; shown to the researcher
    researcher_password: str | None

    @property
    def is_bundled_demo(self) -> bool:
        """The demo (or its stand-in example) may run without a configured password: see the gate. Named
        explicitly (``--study demo/study.toml``, ``XAI_STUDY_FILE``) it is still the demo."""
        return self.source in ("demo", "example") or self.study_file.resolve() == DEMO_STUDY.resolve()

    @property
    def source_note(self) -> str:
        return {
            "command line": "study file from the command line (--study)",
            "environment": f"study file from ${ENV_STUDY_FILE}",
            "secrets": f"study file from secrets.toml key '{SECRET_STUDY_FILE}'",
            "demo": "the bundled demo study (no study file configured)",
            "example": (
                "no study file configured and the bundled demo (demo/study.toml) is not present yet: "
                "running an example study instead"
            ),
        }[self.source]


def read_secrets_file(path: str | Path = SECRETS_FILE) -> dict:
    """The project's ``secrets.toml`` as a dict (empty when absent); for callers outside Streamlit."""
    path = Path(path)
    if not path.is_file():
        return {}
    with path.open("rb") as fh:
        return tomllib.load(fh)


def _first_example() -> Path | None:
    examples = sorted(EXAMPLE_STUDIES.glob("*.toml"))
    preferred = [p for p in examples if p.stem in ("rate", "rate_within")]
    return (preferred or examples or [None])[0]


def _text(value) -> str | None:
    value = "" if value is None else str(value).strip()
    return value or None


def study_from_argv(argv: Sequence[str]) -> str | None:
    """``--study FILE`` or ``--study=FILE`` among the script arguments (after ``--`` on ``streamlit run``)."""
    for i, arg in enumerate(argv):
        if arg == "--study" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--study="):
            return arg.split("=", 1)[1]
    return None


def resolve_settings(secrets: Mapping | None = None, env: Mapping | None = None,
                     argv: Sequence[str] = ()) -> AppSettings:
    """Decide which study runs and with which password. Relative paths are taken from the working
    directory when they exist there, else from the project root."""
    secrets = dict(secrets or {})
    env = os.environ if env is None else env
    if _text(study_from_argv(argv)):
        study, source = Path(study_from_argv(argv).strip()), "command line"
    elif _text(env.get(ENV_STUDY_FILE)):
        study, source = Path(env[ENV_STUDY_FILE].strip()), "environment"
    elif _text(secrets.get(SECRET_STUDY_FILE)):
        study, source = Path(str(secrets[SECRET_STUDY_FILE]).strip()), "secrets"
    elif DEMO_STUDY.is_file():
        study, source = DEMO_STUDY, "demo"
    else:
        example = _first_example()
        study, source = (example, "example") if example else (DEMO_STUDY, "demo")
    if not study.is_absolute():
        study = (Path.cwd() / study) if (Path.cwd() / study).exists() else (PROJECT_ROOT / study)
    return AppSettings(
        study_file=study,
        source=source,
        researcher_password=_text(env.get(ENV_PASSWORD)) or _text(secrets.get(SECRET_PASSWORD)),
    )


@dataclass(frozen=True)
class DatabaseChoice:
    """The database the app or a command uses, and the study file whose folder the default came from."""

    url: str
    study_file: Path

    @property
    def shown(self) -> str:
        """The URL with any password masked, for messages and logs."""
        try:
            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:  # noqa: BLE001 - an unparsable URL is reported where it is used; never print it whole
            return "(unparsable database URL)"

    def describe(self) -> str:
        return f"database: {self.shown} (study file {self.study_file})"


def database_for(settings: AppSettings, db: str | None = None) -> DatabaseChoice:
    """The one rule, for the app and every command: ``db`` (``--db``), else env ``XAI_STUDY_DB_URL``, else
    ``db_url`` in ``secrets.toml``, else ``responses.sqlite`` beside ``settings.study_file``."""
    return DatabaseChoice(resolve_db_url(db, study_path=settings.study_file), settings.study_file)


def resolve_database(db: str | None = None, study: str | Path | None = None, *, secrets: Mapping | None = None,
                     env: Mapping | None = None) -> DatabaseChoice:
    """For commands with ``--db`` and ``--study``: the database the app would use for that study, or, without
    ``--study``, for the study the app would run (``$XAI_STUDY_FILE``, ``secrets.toml``, the demo)."""
    secrets = read_secrets_file() if secrets is None else secrets
    settings = resolve_settings(secrets, env, argv=("--study", str(study)) if study else ())
    return database_for(settings, db)
