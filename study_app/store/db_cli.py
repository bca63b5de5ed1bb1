"""``xai-study db``: see and upgrade the schema revision of a study database.

    xai-study db status  --study my_study.toml     # which revision the database is at, and the code's
    xai-study db upgrade --study my_study.toml     # back up first; applies the missing migrations
    xai-study db revision -m "add responses.note"  # developers: write a migration for a schema.py change

The database is ``--db``, else env ``XAI_STUDY_DB_URL``, else ``db_url`` in ``.streamlit/secrets.toml``,
else ``responses.sqlite`` next to the study file, exactly as the app resolves it. A server never upgrades a
database that holds answers by itself; it refuses to start and names ``xai-study db upgrade``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from study_app.store import migrate
from study_app.store.database import DatabaseConfigError, make_engine, resolve_db_url
from study_app.store.schema import Base


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{status,upgrade,revision}")
    for name, help_ in [("status", "show the database's schema revision and the code's (exit 1 if they differ)"),
                        ("upgrade", "apply the missing migrations (creates the tables of an empty database)")]:
        sub = actions.add_parser(name, help=help_, description=help_)
        sub.add_argument("--db", default=None, help="SQLAlchemy database URL (overrides env and secrets)")
        sub.add_argument("--study", type=Path, default=None,
                         help="study file; its folder holds the default responses.sqlite")
        sub.add_argument("--migrations", default=None, help=argparse.SUPPRESS)  # tests: another folder
    rev = actions.add_parser("revision", help="developers: autogenerate a migration from schema.py changes",
                             description="Compare schema.py with the migrations and write the difference "
                                         "as a new revision file; review it before committing.")
    rev.add_argument("-m", "--message", required=True, help="what the revision changes, e.g. 'add responses.note'")
    rev.add_argument("--empty", action="store_true", help="write an empty revision (data migrations)")
    rev.add_argument("--migrations", default=None, help=argparse.SUPPRESS)


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:" or database.startswith("file:"):
        return None
    return None if Path(database).is_file() else Path(database)


def _status(engine, shown: str, location) -> int:
    db_revision, head = migrate.schema_state(engine, script_location=location)
    print(f"database:      {shown}")
    print(f"db revision:   {db_revision or '(none)'}")
    print(f"code revision: {head}")
    if db_revision == head:
        print("state: up to date")
        return 0
    if db_revision is None:
        tables = set(inspect(engine).get_table_names()) & migrate.baseline_tables()
        print("state: " + ("made by a release without migrations; run: " if tables else "empty; run: ")
              + migrate.upgrade_command(engine.url))
    else:
        print(f"state: needs upgrade; back up the database, then run: {migrate.upgrade_command(engine.url)}")
    return 1


def _upgrade(engine, shown: str, location) -> int:
    before, _ = migrate.schema_state(engine, script_location=location)
    head = migrate.upgrade_database(engine, script_location=location)
    if before == head:
        print(f"{shown}: already at revision {head}")
    else:
        print(f"{shown}: upgraded from {before or '(no revision)'} to {head}")
    return 0


def _revision(args) -> int:
    """Autogenerate against a scratch database at head, so no real database is needed or touched."""


    scratch = create_engine("sqlite://")
    try:
        with scratch.begin() as conn:
            migrate.upgrade_to_head_on(conn, args.migrations)
            changes = compare_metadata(MigrationContext.configure(conn), Base.metadata)
            if not changes and not args.empty:
                print("schema.py matches the migrations: nothing to write (use --empty for a data migration)")
                return 1
            rev_id = migrate.next_revision_id(args.message, args.migrations)
            with migrate.process_lock():
                script = command.revision(migrate.make_config(args.migrations, conn), message=args.message,
                                          autogenerate=not args.empty, rev_id=rev_id)
    finally:
        scratch.dispose()
    print(f"wrote {script.path}: review it, then run the tests (tests/store/test_migrations.py)")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.action == "revision":
        return _revision(args)
    try:
        url = resolve_db_url(args.db, study_path=args.study)
        engine = make_engine(url) if _missing_sqlite_file(url) is None else None
    except DatabaseConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if engine is None:
        print(f"error: no database at {_missing_sqlite_file(url)} (set --db, --study or XAI_STUDY_DB_URL); "
              "the app creates it when it first opens the study", file=sys.stderr)
        return 1
    shown = migrate.display_url(engine.url)
    try:
        return (_status if args.action == "status" else _upgrade)(engine, shown, args.migrations)
    except migrate.SchemaMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: {shown}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
