"""``xai-study backup``: a consistent copy of the study database while participants write (and its manifest).

    xai-study backup --study my_study.toml --out backups/2026-01-02.sqlite
    xai-study backup --db postgresql+psycopg://xai@127.0.0.1/study --out backups/2026-01-02.dump

The database is found exactly as the app finds it (:mod:`study_app.admin.arguments`) and named in the output.
PostgreSQL needs ``pg_dump`` (Debian: postgresql-client). The backup and its manifest are owner-only (0600).
The Prolific-id key (``id_key``) is not in the database: back it up too.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from study_app.admin.arguments import add_database_arguments, chosen_database
from study_app.store import DatabaseConfigError
from study_app.store.backup import BackupError, backup_database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="backup file to write (and FILE.manifest.json)")


def run(args: argparse.Namespace) -> int:
    try:
        database = chosen_database(args)
        print(database.describe())
        result = backup_database(database.url, args.out)
    except (BackupError, DatabaseConfigError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    except (SQLAlchemyError, sqlite3.Error, OSError) as exc:  # e.g. a damaged live database: one line, no traceback
        first = str(getattr(exc, "orig", None) or exc).strip().splitlines()
        print(f"backup: {type(exc).__name__}: {first[0] if first else ''}", file=sys.stderr)
        return 1
    rows = sum(t["rows"] for t in result.manifest["tables"].values())
    print(f"backed up {rows} rows in {len(result.manifest['tables'])} tables to {result.path} "
          f"(manifest: {result.manifest_path})")
    return 0
