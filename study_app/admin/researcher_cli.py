"""``xai-study researcher unlock``: open the researcher area after failed logins locked it, for everyone.

    xai-study researcher unlock --study my_study.toml

Clears the global lock and every client's count of failed logins (:mod:`study_app.store.login_throttle`) in
the database every server process reads, and writes ``researcher_unlock`` with the OS user to the researcher
audit log. It needs access to the database, i.e. the server's machine or credentials: not a password guess.
"""

from __future__ import annotations

import argparse
import sys

from sqlalchemy.exc import SQLAlchemyError

from study_app.admin.arguments import add_database_arguments, chosen_database, missing_sqlite_file
from study_app.store import DatabaseConfigError, Repository, make_engine
from study_app.store.login_throttle import LoginThrottle
from study_app.store.logs import cli_actor
from study_app.store.migrate import SchemaMismatch


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", required=True, metavar="{unlock}")
    unlock = actions.add_parser("unlock", help="clear every failed-login lock and count (audited)",
                                description="Clear the researcher area's failed-login locks and counts (audited).")
    add_database_arguments(unlock)


def run(args: argparse.Namespace) -> int:
    try:
        database = chosen_database(args)
        print(database.describe())
        if missing_sqlite_file(database.url) is not None:
            raise DatabaseConfigError(f"no database at {missing_sqlite_file(database.url)} (set --db or --study)")
        repo = Repository(make_engine(database.url), create_tables=False)
    except DatabaseConfigError as exc:
        print(f"researcher: {exc}", file=sys.stderr)
        return 1
    try:
        locked = LoginThrottle(repo).unlock(actor=cli_actor())
    except (SQLAlchemyError, SchemaMismatch) as exc:
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"researcher: cannot unlock in {database.shown}: {first[0] if first else type(exc).__name__}",
              file=sys.stderr)
        return 1
    finally:
        repo.dispose()
    print(f"researcher area unlocked ({locked} lock{'s' if locked != 1 else ''} cleared); "
          "written to the researcher audit log")
    return 0
