"""``xai-study backup`` and ``xai-study restore``: a consistent copy while participants write, and back.

    xai-study backup --study my_study.toml --out backups/2026-01-02.sqlite
    xai-study restore --from backups/2026-01-02.sqlite --db sqlite:///restored.sqlite

The database is ``--db``, else env ``XAI_STUDY_DB_URL``, else ``db_url`` in ``.streamlit/secrets.toml``, else
``responses.sqlite`` next to ``--study`` (as the app finds it). PostgreSQL needs ``pg_dump``/``pg_restore``
(Debian: postgresql-client). The Prolific-id key (``id_key``) is not in the database: back it up too.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from study_app.store.backup import BackupError, backup_database, restore_database
from study_app.store.database import DatabaseConfigError, resolve_db_url


def _database_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", default=None, help="SQLAlchemy database URL (overrides env and secrets)")
    parser.add_argument("--study", type=Path, default=None, help="the study file (its database by default)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    _database_arguments(parser)
    parser.add_argument("--out", required=True, type=Path, help="backup file to write (and FILE.manifest.json)")


def run(args: argparse.Namespace) -> int:
    try:
        url = resolve_db_url(args.db, study_path=args.study)
        result = backup_database(url, args.out)
    except (BackupError, DatabaseConfigError) as exc:
        print(f"backup: {exc}", file=sys.stderr)
        return 1
    rows = sum(t["rows"] for t in result.manifest["tables"].values())
    print(f"backed up {rows} rows in {len(result.manifest['tables'])} tables to {result.path} "
          f"(manifest: {result.manifest_path})")
    return 0


def add_restore_arguments(parser: argparse.ArgumentParser) -> None:
    _database_arguments(parser)
    parser.add_argument("--from", dest="source", required=True, type=Path, help="a file made by xai-study backup")
    parser.add_argument("--force", action="store_true",
                        help="replace the contents of a database that already holds tables (stop its servers first)")


def run_restore(args: argparse.Namespace) -> int:
    try:
        url = resolve_db_url(args.db, study_path=args.study)
        meta = restore_database(args.source, url, force=args.force)
    except (BackupError, DatabaseConfigError) as exc:
        print(f"restore: {exc}", file=sys.stderr)
        return 1
    print(f"restored {args.source} (made {meta.get('made_at')}); every table matches its manifest")
    return 0
