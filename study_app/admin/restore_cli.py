"""``xai-study restore``: put a backup back, only once a scratch copy of it matches its manifest.

    xai-study restore --from backups/2026-01-02.sqlite --study my_study.toml
    xai-study restore --from backups/2026-01-02.dump --db postgresql+psycopg://xai@127.0.0.1/study --force

The target is found exactly as the app finds it (:mod:`study_app.admin.arguments`) and named before anything
happens. A damaged, truncated or mismatched backup is refused with one line and the target is left as it was
(:mod:`study_app.store.restore`). ``--force`` replaces a database that holds tables: stop its servers first.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from study_app.admin.arguments import add_database_arguments, chosen_database
from study_app.store import DatabaseConfigError
from study_app.store.backup import BackupError
from study_app.store.restore import restore_database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_database_arguments(parser)
    parser.add_argument("--from", dest="source", required=True, type=Path, help="a file made by xai-study backup")
    parser.add_argument("--force", action="store_true",
                        help="replace the contents of a database that already holds tables (stop its servers first)")


def run(args: argparse.Namespace) -> int:
    try:
        database = chosen_database(args)
        print(database.describe())
        meta = restore_database(args.source, database.url, force=args.force)
    except (BackupError, DatabaseConfigError) as exc:
        print(f"restore: {' '.join(str(exc).split())}", file=sys.stderr)  # one line, whatever the cause
        return 1
    print(f"restored {args.source} (made {meta.get('made_at')}) into {database.shown}; every table matches "
          "its manifest")
    return 0
