"""``xai-study db``: see and upgrade the schema revision of a study database.

    xai-study db status  --study my_study.toml     # which revision the database is at, and the code's
    xai-study db upgrade --study my_study.toml     # back up first; applies the missing migrations
    xai-study db revision -m "add responses.note"  # developers: write a migration for a schema.py change

The database is ``--db``, else env ``XAI_STUDY_DB_URL``, else ``db_url`` in ``.streamlit/secrets.toml``,
else ``responses.sqlite`` next to the study file (``--study``, else the study the app would run), exactly as
the app resolves it, and the first line printed names it. A server never upgrades a database by itself; it
refuses to start and names ``xai-study backup`` and ``xai-study db upgrade``. After an upgrade, a study begun
before revision 0002 (its Prolific-id key in the database) is named with what to set before serving it.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.exc import SQLAlchemyError

from study_app.admin.arguments import add_database_arguments, chosen_settings, missing_sqlite_file
from study_app.serve.refusals import id_key_refusal, study_keys
from study_app.store import migrate
from study_app.store.database import DatabaseConfigError, make_engine
from study_app.store.schema import Base


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{status,upgrade,revision}")
    for name, help_ in [("status", "show the database's schema revision and the code's (exit 1 if they differ)"),
                        ("upgrade", "apply the missing migrations (creates the tables of an empty database)")]:
        sub = actions.add_parser(name, help=help_, description=help_)
        add_database_arguments(sub)
        sub.add_argument("--migrations", default=None, help=argparse.SUPPRESS)  # tests: another folder
    rev = actions.add_parser("revision", help="developers: autogenerate a migration from schema.py changes",
                             description="Compare schema.py with the migrations and write the difference "
                                         "as a new revision file; review it before committing.")
    rev.add_argument("-m", "--message", required=True, help="what the revision changes, e.g. 'add responses.note'")
    rev.add_argument("--empty", action="store_true", help="write an empty revision (data migrations)")
    rev.add_argument("--migrations", default=None, help=argparse.SUPPRESS)


def _status(engine, shown: str, location) -> int:
    db_revision, head = migrate.schema_state(engine, script_location=location)
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
        print(f"state: needs upgrade; back up the database ({migrate.backup_command(engine.url)}), then run: "
              f"{migrate.upgrade_command(engine.url)}")
    return 1


def _upgrade(engine, shown: str, location, study_file: Path, id_key: str | None) -> int:
    before, _ = migrate.schema_state(engine, script_location=location)
    head = migrate.upgrade_database(engine, script_location=location)
    if before == head:
        print(f"{shown}: already at revision {head}")
    else:
        print(f"{shown}: upgraded from {before or '(no revision)'} to {head}")
    keys = study_keys(study_file)
    with engine.connect() as conn:
        refusal = id_key_refusal(conn, keys, id_key=id_key) if keys is not None else None
        others = _slugs_with_keys(conn) if keys is None else []
    if refusal:
        print(f"note: a server will refuse this study until this is done: {refusal}")
    elif others:
        print(f"note: {', '.join(others)} began before revision 0002 and keep their Prolific-id key in the "
              "database; run xai-study check --study FILE for what a server needs to serve them")
    return 0


def _slugs_with_keys(conn) -> list[str]:
    rows = conn.execute(text("SELECT DISTINCT slug FROM studies WHERE id_key IS NOT NULL ORDER BY slug"))
    return [r[0] for r in rows]


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
        settings = chosen_settings(args)
        database = settings.database_choice
        url = database.url
        print(database.describe())
        engine = make_engine(url) if missing_sqlite_file(url) is None else None
    except DatabaseConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if engine is None:
        print(f"error: no database at {missing_sqlite_file(url)} (set --db, --study or XAI_STUDY_DB_URL); "
              "the app creates it when it first opens the study", file=sys.stderr)
        return 1
    shown = migrate.display_url(engine.url)
    try:
        if args.action == "status":
            return _status(engine, shown, args.migrations)
        return _upgrade(engine, shown, args.migrations, database.study_file, settings.id_key.value)
    except migrate.SchemaMismatch as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except SQLAlchemyError as exc:
        print(f"error: {shown}: {exc.__class__.__name__}: {str(exc).splitlines()[0]}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
