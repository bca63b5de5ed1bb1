"""``--db`` and ``--study`` for every database command, and the one rule that turns them into a database."""

from __future__ import annotations

import argparse
from pathlib import Path

from sqlalchemy.engine import make_url

from study_app.settings import DatabaseChoice, Settings, resolve
from study_app.store import DatabaseConfigError


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", type=Path, default=None,
                        help="the study file: its database, as the app finds it (default: the study the app "
                             "would run: $XAI_STUDY_FILE, secrets.toml study_file, else the demo)")
    parser.add_argument("--db", default=None,
                        help="SQLAlchemy database URL (default: $XAI_STUDY_DB_URL, db_url in "
                             ".streamlit/secrets.toml, else responses.sqlite beside the study file)")


def chosen_settings(args: argparse.Namespace) -> Settings:
    """The settings for ``--study`` and ``--db`` (:func:`study_app.settings.resolve`). Raises
    :class:`study_app.store.DatabaseConfigError` for an unreadable secrets file or a ``--study`` that is not
    a file."""
    settings = resolve(study=args.study, db=args.db)
    if args.study is not None and not settings.study_file.is_file():
        raise DatabaseConfigError(f"no study file at {args.study}")
    return settings


def chosen_database(args: argparse.Namespace) -> DatabaseChoice:
    """The database of :func:`chosen_settings`."""
    return chosen_settings(args).database_choice


def missing_sqlite_file(url: str) -> Path | None:
    """The SQLite file ``url`` names when it does not exist (a command must not create an empty one)."""
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return None if Path(database).is_file() else Path(database)
