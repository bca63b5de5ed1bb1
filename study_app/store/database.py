"""Which database, and a correctly configured SQLAlchemy engine for it.

SQLite is the default because a study on one laptop or one small server should need nothing installed.
Three settings make it safe with many participants at once: WAL (readers never block the writer), a busy
timeout (a writer waits for the lock instead of failing), and ``BEGIN IMMEDIATE`` (a transaction takes the
write lock when it starts, so two transactions cannot both read then both try to upgrade, the classic
SQLite deadlock that a busy timeout cannot resolve). Any other SQLAlchemy URL works, e.g.
``postgresql+psycopg://user:pass@host/db``.

Durability: WAL with ``synchronous=NORMAL`` keeps every committed transaction when a *process* dies (a
SIGKILL, an out-of-memory kill: the WAL is already in the operating system's page cache;
tests/store/test_crash_safety.py kills a server mid-burst). Only an operating-system crash or power loss can
lose the last transactions before the next checkpoint, never corrupt the file; ``FULL`` would close that
window at the price of an fsync per commit. A study on a machine without a UPS that cannot afford to lose
its last seconds should use PostgreSQL, and backups (``xai-study backup``) either way.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from study_app.store.private_files import create_private
from study_app.store.secrets_file import SECRETS_FILE, SecretsFileError, read_secrets_file

DB_URL_ENV = "XAI_STUDY_DB_URL"
SECRETS_KEY = "db_url"
DEFAULT_SQLITE_NAME = "responses.sqlite"
SQLITE_BUSY_TIMEOUT_S = 30

__all__ = ["DB_URL_ENV", "SECRETS_FILE", "SECRETS_KEY", "DatabaseConfigError", "choose_db_url", "make_engine",
           "resolve_db_url"]


class DatabaseConfigError(ValueError):
    """The database URL or the secrets file that holds it is unusable; the message says which."""


def choose_db_url(explicit: str | None, env: Mapping[str, str], secrets: Mapping,
                  study_path: str | Path | None, secrets_name: str | Path = SECRETS_FILE) -> tuple[str, str]:
    """The one rule, as ``(url, source)``: ``explicit`` (``--db``), env ``XAI_STUDY_DB_URL``, ``db_url`` in the
    secrets, else a SQLite file ``responses.sqlite`` next to the study file (or in the working directory)."""
    if explicit:
        return explicit, "command line"
    from_env = (env.get(DB_URL_ENV) or "").strip()
    if from_env:
        return from_env, f"environment {DB_URL_ENV}"
    value = secrets.get(SECRETS_KEY)
    if value is not None:
        if not isinstance(value, str) or not value.strip():
            raise DatabaseConfigError(f"{secrets_name}: {SECRETS_KEY} must be a non-empty string")
        return value, "secrets.toml"
    folder = Path(study_path).resolve().parent if study_path else Path.cwd()
    return f"sqlite:///{folder / DEFAULT_SQLITE_NAME}", "default: beside the study file" if study_path else "default"


def resolve_db_url(explicit: str | None = None, *, study_path: str | Path | None = None,
                   secrets_paths: list[Path] | None = None) -> str:
    """:func:`choose_db_url` with the process environment and the secrets files read here (working directory,
    then home). Callers that have the resolved settings (:func:`study_app.settings.resolve`) use theirs."""
    if explicit or os.environ.get(DB_URL_ENV, "").strip():
        return choose_db_url(explicit, os.environ, {}, study_path)[0]
    if secrets_paths is None:
        secrets_paths = [Path.cwd() / SECRETS_FILE, Path.home() / SECRETS_FILE]
    for path in secrets_paths:
        try:
            secrets = read_secrets_file(path)
        except SecretsFileError as exc:
            raise DatabaseConfigError(str(exc)) from exc
        if secrets.get(SECRETS_KEY) is not None:
            return choose_db_url(None, {}, secrets, study_path, path)[0]
    return choose_db_url(None, {}, {}, study_path)[0]


READ_ONLY_OPTION = "xai_study_read_only"


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for ``url`` with SQLite made concurrency-safe (WAL, busy timeout, BEGIN IMMEDIATE)."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseConfigError(f"not a database URL: {url!r} ({exc})") from exc
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=40)
    database = parsed.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed, echo=echo,
                           connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S, "check_same_thread": False})

    @event.listens_for(engine, "do_connect")
    def _owner_only(_dialect, _record, _cargs, _cparams):  # pragma: no cover - every new SQLite file
        # The study database holds participants' answers: a new file is owner-only (0600) before SQLite
        # writes anything to it; SQLite gives its -wal and -shm files the same mode.
        if database and database != ":memory:" and not database.startswith("file:") and not Path(database).exists():
            create_private(database)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection, _record):  # pragma: no cover - exercised by every SQLite test
        dbapi_connection.isolation_level = None  # let the "begin" hook below issue BEGIN itself
        cursor = dbapi_connection.cursor()
        if database and database != ":memory:":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_S * 1000}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin_immediate(connection):  # pragma: no cover
        # Writers take the write lock up front (no upgrade deadlocks); readers, marked by the repository,
        # start a deferred transaction: in WAL mode they read a snapshot and never queue behind writers.
        read_only = connection.get_execution_options().get(READ_ONLY_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

    return engine
