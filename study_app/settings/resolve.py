""":func:`resolve`: every setting decided once, from the command line, the environment, ``secrets.toml``
(read by :mod:`study_app.store.secrets_file`, nowhere else) and the study file.

Precedence, setting by setting (the first that is set wins):

* study file: ``--study`` (``streamlit run study_app/main.py -- --study FILE``), ``$XAI_STUDY_FILE``,
  ``study_file`` in ``secrets.toml``, the bundled demo (``demo/study.toml``; an example study while the
  demo is not built yet). A relative path is taken from the working directory when it exists there, else
  from the project root;
* researcher password: ``$XAI_STUDY_RESEARCHER_PASSWORD``, ``researcher_password`` in ``secrets.toml``
  (blank counts as unset); none: the area stays locked, except for the bundled demo (one-time password);
* database: ``--db``, ``$XAI_STUDY_DB_URL``, ``db_url`` in ``secrets.toml``, else ``responses.sqlite``
  beside the study file (:func:`study_app.store.database.choose_db_url`);
* attribution cache folder: ``$XAI_STUDY_CACHE``, the study file's ``[study] cache`` (relative to the
  file), else ``.xai_cache/`` in the working directory (the rule of
  :func:`study_app.explain.cache.resolve_cache_dir`);
* external-id key: ``$XAI_STUDY_ID_KEY``, ``id_key`` in ``secrets.toml``, else created there when a study
  that hashes Prolific ids opens (:mod:`study_app.study.id_key`);
* processes serving the study: ``--replicas``, ``$XAI_STUDY_REPLICAS`` (set by ``xai-study serve`` on each
  replica), else 1;
* warm start (load the study before the server answers): on unless ``$XAI_STUDY_COLD_START`` is set (not
  ``0``); page timing in the log: off unless ``$XAI_STUDY_TIMING`` is set (not ``0``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from study_app.explain.cache import CACHE_ENV, DEFAULT_CACHE_DIRNAME
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
    PROJECT_ROOT,
    SECRET_PASSWORD,
    SECRET_STUDY_FILE,
    SECRETS,
    STUDY_FILE,
    DatabaseChoice,
    Setting,
    Settings,
    database_setting,
    environment,
    id_key_setting,
    is_demo,
)
from study_app.store.database import DatabaseConfigError, choose_db_url
from study_app.store.secrets_file import SecretsFileError, read_secrets, read_secrets_file
from study_app.study.errors import StudyFileError
from study_app.study.id_key import ID_KEY_ENV, SECRET_ID_KEY
from study_app.study.study_file import read_study_file


class SettingsError(DatabaseConfigError):
    """A setting cannot be decided: the secrets file is unreadable or a value in it unusable."""


def _text(value) -> str | None:
    value = "" if value is None else str(value).strip()
    return value or None


def _first_example() -> Path | None:
    examples = sorted(EXAMPLE_STUDIES.glob("*.toml"))
    preferred = [p for p in examples if p.stem in ("rate", "rate_within")]
    return (preferred or examples or [None])[0]


def study_from_argv(argv: Sequence[str]) -> str | None:
    """``--study FILE`` or ``--study=FILE`` among the script arguments (after ``--`` on ``streamlit run``)."""
    for i, arg in enumerate(argv):
        if arg == "--study" and i + 1 < len(argv):
            return argv[i + 1]
        if arg.startswith("--study="):
            return arg.split("=", 1)[1]
    return None


def _study(given, env: Mapping, secrets: Mapping, here: Path) -> Setting:
    if _text(given):
        study, source = Path(str(given).strip()), COMMAND_LINE
    elif _text(env.get(ENV_STUDY_FILE)):
        study, source = Path(env[ENV_STUDY_FILE].strip()), environment(ENV_STUDY_FILE)
    elif _text(secrets.get(SECRET_STUDY_FILE)):
        study, source = Path(str(secrets[SECRET_STUDY_FILE]).strip()), SECRETS
    elif DEMO_STUDY.is_file():
        study, source = DEMO_STUDY, BUNDLED_DEMO
    else:
        example = _first_example()
        study, source = (example, BUNDLED_EXAMPLE) if example else (DEMO_STUDY, BUNDLED_DEMO)
    if not study.is_absolute():
        study = (here / study) if (here / study).exists() else (PROJECT_ROOT / study)
    return Setting("study file", study, source, str(study))


def _study_cache(study_file: Path) -> str | None:
    """The study file's ``[study] cache`` (no images or models read); ``None`` when unset or unreadable
    (loading the study reports a broken file)."""
    try:
        table = read_study_file(study_file).study_table
    except StudyFileError:
        return None
    value = table.get("cache")
    return _text(value) if isinstance(value, str) else None


def _cache(env: Mapping, study_file: Path, here: Path) -> Setting:
    if env.get(CACHE_ENV):
        folder, source = Path(env[CACHE_ENV]), environment(CACHE_ENV)
    elif (preferred := _study_cache(study_file)) is not None:
        folder, source = (study_file.parent / preferred).resolve(), STUDY_FILE
    else:
        folder, source = here / DEFAULT_CACHE_DIRNAME, DEFAULT
    return Setting("attribution cache", folder, source, str(folder))


def _replicas(given: int | None, env: Mapping, default: int) -> Setting:
    if given is not None:
        count, source = given, COMMAND_LINE
    else:
        try:
            count, source = max(1, int(env.get(ENV_REPLICAS, ""))), environment(ENV_REPLICAS)
        except ValueError:
            count, source = default, DEFAULT
    return Setting("processes (replicas)", count, source, str(count))


def _switch(name: str, env: Mapping, variable: str, *, on: str, off: str, default: bool) -> Setting:
    """A flag the environment turns around: set to anything but ``0`` it is ``not default``."""
    if (env.get(variable) or "").strip() not in ("", "0"):
        value, source = not default, environment(variable)
    else:
        value, source = default, DEFAULT
    return Setting(name, value, source, on if value else off)


def _password(env: Mapping, secrets: Mapping, study: Setting) -> Setting:
    name = "researcher password"
    if value := _text(env.get(ENV_PASSWORD)):
        return Setting.secret(name, value, environment(ENV_PASSWORD))
    if value := _text(secrets.get(SECRET_PASSWORD)):
        return Setting.secret(name, value, SECRETS)
    return Setting(name, None, DEFAULT, "not set: a one-time password in the server log (bundled demo)"
                   if is_demo(study)
                   else "not set: the researcher area stays locked")


def _id_key(env: Mapping, secrets: Mapping) -> Setting:
    if value := _text(env.get(ID_KEY_ENV)):
        return id_key_setting(value, environment(ID_KEY_ENV))
    value = secrets.get(SECRET_ID_KEY)
    if isinstance(value, str) and value.strip():
        return id_key_setting(value, SECRETS)
    return id_key_setting(None, DEFAULT)


def resolve(*, study: str | Path | None = None, db: str | None = None, replicas: int | None = None,
            env: Mapping[str, str] | None = None, secrets: Mapping | None = None,
            secrets_file: str | Path | None = None, cwd: str | Path | None = None, home: str | Path | None = None,
            replicas_default: int = 1) -> Settings:
    """Every setting, once (precedence in the module docstring).

    Args:
        study, db, replicas: The command line's ``--study``, ``--db``, ``--replicas`` (``None``: not given).
        env: The environment (default: this process's).
        secrets: Already-read secrets (tests; ``{}`` for none); ``None`` reads them: ``secrets_file`` when
            given (``xai-study check --secrets``), else ``~/.streamlit/secrets.toml`` overlaid by
            ``<cwd>/.streamlit/secrets.toml`` as Streamlit reads them.
        cwd, home: The working directory and home folder (default: this process's).
        replicas_default: Processes when neither ``--replicas`` nor the environment says.

    Raises:
        SettingsError: the secrets file is not valid TOML, or ``db_url`` in it is not a non-empty string.
    """
    env = os.environ if env is None else env
    here = Path(cwd) if cwd is not None else Path.cwd()
    try:
        if secrets is None:
            secrets = read_secrets_file(secrets_file) if secrets_file is not None else read_secrets(here, home)
        study_setting = _study(study, env, secrets, here)
        url, db_source = choose_db_url(db, env, secrets, study_setting.value)
    except (SecretsFileError, DatabaseConfigError) as exc:
        raise SettingsError(str(exc)) from exc
    return Settings(study=study_setting, password=_password(env, secrets, study_setting),
                    database=database_setting(url, db_source), cache=_cache(env, study_setting.value, here),
                    id_key=_id_key(env, secrets), replicas=_replicas(replicas, env, replicas_default),
                    warm_start=_switch("warm start", env, ENV_COLD_START, default=True,
                                       on="on: study, models and maps load before the server answers",
                                       off="off: the first visitor waits for the study to load"),
                    page_timing=_switch("page timing log", env, ENV_TIMING, default=False,
                                        on="on: each participant page's build time is logged", off="off"))


def resolve_settings(secrets: Mapping | None = None, env: Mapping | None = None,
                     argv: Sequence[str] = ()) -> Settings:
    """:func:`resolve` for the study named among script arguments ``argv``, with these secrets (``None``:
    none)."""
    return resolve(study=study_from_argv(argv), env=env, secrets=dict(secrets or {}))


def database_for(settings: Settings, db: str | None = None) -> DatabaseChoice:
    """The settings' database, or ``db`` when a command names one."""
    return DatabaseChoice(db, settings.study_file) if db else settings.database_choice


def resolve_database(db: str | None = None, study: str | Path | None = None, *, secrets: Mapping | None = None,
                     env: Mapping | None = None) -> DatabaseChoice:
    """For commands with ``--db`` and ``--study``: the database the app would use for that study, or, without
    ``--study``, for the study the app would run."""
    return resolve(study=study, db=db, env=env, secrets=secrets).database_choice


ENV_PROLIFIC_TOKEN = "XAI_STUDY_PROLIFIC_TOKEN"  # noqa: S105 - a variable's name
SECRET_PROLIFIC_TOKEN = "prolific_token"  # noqa: S105 - a key name


def resolve_prolific_token(*, env: Mapping[str, str] | None = None, secrets: Mapping | None = None,
                           cwd: str | Path | None = None, home: str | Path | None = None) -> Setting:
    """The Prolific API token (``xai-study prolific``, the Researcher area's Prolific section): env
    ``XAI_STUDY_PROLIFIC_TOKEN``, else ``prolific_token`` in ``secrets.toml``; a secret, never shown or stored.

    Raises:
        SettingsError: the secrets file is not valid TOML.
    """
    env = os.environ if env is None else env
    name = "Prolific API token"
    if value := _text(env.get(ENV_PROLIFIC_TOKEN)):
        return Setting.secret(name, value, environment(ENV_PROLIFIC_TOKEN))
    try:
        secrets = read_secrets(Path(cwd) if cwd is not None else Path.cwd(), home) if secrets is None else secrets
    except SecretsFileError as exc:
        raise SettingsError(str(exc)) from exc
    if value := _text(secrets.get(SECRET_PROLIFIC_TOKEN)):
        return Setting.secret(name, value, SECRETS)
    return Setting(name, None, DEFAULT, f"not set: {ENV_PROLIFIC_TOKEN} or {SECRET_PROLIFIC_TOKEN} in secrets.toml")


ENV_PROLIFIC_API_URL = "XAI_STUDY_PROLIFIC_API_URL"
PROLIFIC_API_URL = "https://api.prolific.com"


def resolve_prolific_api_url(env: Mapping[str, str] | None = None) -> str:
    """Prolific's API root: env ``XAI_STUDY_PROLIFIC_API_URL`` (a stand-in with Prolific's paths), else
    ``https://api.prolific.com``."""
    env = os.environ if env is None else env
    return _text(env.get(ENV_PROLIFIC_API_URL)) or PROLIFIC_API_URL
