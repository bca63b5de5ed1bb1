"""Restores that cannot destroy: a backup is restored into a scratch copy and proven complete against its
manifest before it replaces anything, and then replaces the target in one atomic step.

* SQLite: the backup is copied (online backup API, read-only) into a temporary file in the target's folder,
  checked with ``PRAGMA integrity_check`` and against the manifest, and moved over the target with
  ``os.replace`` (the target's WAL is checkpointed and removed first, so no stale log is replayed onto the
  new file). A fresh path gets no file at all unless the restore succeeds.
* PostgreSQL: ``pg_restore`` into a scratch database (created and dropped here: the user needs
  ``CREATEDB``), checked against the manifest there; only then ``pg_restore --single-transaction`` into the
  target (with ``--clean`` over existing tables), so a failure rolls the target back to where it was.

Before either, the backup file's size and SHA-256 are compared with the manifest's (manifests written before
they were recorded skip this). Every failure is a :class:`~study_app.store.backup.BackupError` with a
one-line message; the target is then unchanged.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import subprocess
import tempfile
from contextlib import closing
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from study_app.store.backup import (
    BackupError,
    audit,
    file_digest,
    manifest_path,
    pg_command_env,
    pg_tool,
    sqlite_path,
    table_manifest,
)
from study_app.store.database import make_engine

NOTHING_CHANGED = "nothing was changed"


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{type(getattr(exc, 'orig', None) or exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def read_manifest(backup: Path) -> dict:
    path = manifest_path(backup)
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(f"{path}: missing or unreadable manifest ({exc})") from exc
    if not isinstance(meta, dict) or not isinstance(meta.get("tables"), dict) or "backend" not in meta:
        raise BackupError(f"{path}: not a manifest written by xai-study backup")
    return meta


def _check_file(backup: Path, meta: dict) -> None:
    if not backup.is_file():
        raise BackupError(f"no backup at {backup}")
    if "file_sha256" not in meta:
        return  # written by a release that did not record it: the restored tables are still checked
    size, digest = file_digest(backup)
    if digest != meta["file_sha256"]:
        raise BackupError(f"{backup} does not match its manifest ({size} bytes, the manifest says "
                          f"{meta.get('file_bytes')}; SHA-256 differs): damaged, truncated or another file; "
                          f"{NOTHING_CHANGED}")


def _differences(restored: dict, meta: dict) -> list[str]:
    expected = meta["tables"]
    return sorted(t for t in set(restored) | set(expected) if restored.get(t) != expected.get(t))


def _compare(restored: dict, meta: dict) -> None:
    differ = _differences(restored, meta)
    if differ:
        raise BackupError(f"the backup differs from its manifest in: {', '.join(differ)}; {NOTHING_CHANGED}")


def _manifest_at(url: str | URL, *, plain: bool = False) -> dict:
    """The restored copy's manifest; ``plain``: a bare SQLAlchemy engine (no WAL switch on a scratch file)."""
    engine = sa.create_engine(url) if plain else make_engine(
        url.render_as_string(hide_password=False) if isinstance(url, URL) else url)
    try:
        with engine.connect() as conn:
            return table_manifest(conn)
    finally:
        engine.dispose()


def _holds_tables(url: str) -> bool:
    """Whether the target already holds tables; an unreadable target counts as holding some."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path = sqlite_path(parsed)
        if not path.is_file() or path.stat().st_size == 0:
            return False
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return bool(sa.inspect(conn).get_table_names())
    except sa.exc.OperationalError as exc:
        if parsed.get_backend_name() != "sqlite":
            raise BackupError(f"cannot reach the target database: {_one_line(exc)}") from exc
        return True
    except sa.exc.SQLAlchemyError:
        return True
    finally:
        engine.dispose()


def _restore_sqlite(backup: Path, target: Path, meta: dict) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.restore-", suffix=".tmp")  # 0600
    os.close(fd)
    scratch = Path(name)
    try:
        try:
            source = f"file:{backup.resolve()}?mode=ro"
            with closing(sqlite3.connect(source, uri=True)) as src, closing(sqlite3.connect(scratch)) as dst:
                src.backup(dst)
            with closing(sqlite3.connect(scratch)) as check:
                verdict = [row[0] for row in check.execute("PRAGMA integrity_check")]
                check.execute("PRAGMA journal_mode=DELETE")  # a single file to move; the app turns WAL on again
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{backup} is not a readable SQLite database ({_one_line(exc)}); "
                              f"{NOTHING_CHANGED}") from exc
        if verdict != ["ok"]:
            raise BackupError(f"{backup} fails SQLite's integrity check ({verdict[0]}"
                              f"{f' and {len(verdict) - 1} more' if len(verdict) > 1 else ''}); {NOTHING_CHANGED}")
        try:
            restored = _manifest_at(f"sqlite:///{scratch}", plain=True)
        except (sa.exc.SQLAlchemyError, sqlite3.DatabaseError) as exc:
            raise BackupError(f"{backup} cannot be read back ({_one_line(exc)}); {NOTHING_CHANGED}") from exc
        _compare(restored, meta)
        with open(scratch, "rb") as fh:
            os.fsync(fh.fileno())
        _retire_wal(target)
        os.replace(scratch, target)
        dir_fd = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    finally:
        scratch.unlink(missing_ok=True)
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{scratch}{suffix}").unlink(missing_ok=True)


def _retire_wal(target: Path) -> None:
    """Fold the old database's WAL into it (best effort: it may be damaged), then remove the WAL and its
    index, so that the file moved into place is read alone."""
    if target.is_file():
        try:
            with closing(sqlite3.connect(target, timeout=10)) as conn:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        except sqlite3.DatabaseError:
            pass  # replaced anyway (--force): a damaged target's log is of no use
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)


def _pg_restore(backup: Path, url: URL, *, clean: bool) -> None:
    args, env = pg_command_env(url)
    command = [pg_tool("pg_restore"), "--no-owner", "--exit-on-error", "--single-transaction",
               *(["--clean", "--if-exists"] if clean else []), *args, str(backup)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600, check=False)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        raise BackupError(f"pg_restore failed: {lines[0] if lines else f'exit {done.returncode}'}")


def _restore_postgres(backup: Path, url: str, meta: dict, *, clean: bool) -> None:
    parsed = make_url(url)
    scratch = parsed.set(database=f"xai_restore_{secrets.token_hex(6)}")
    admin = sa.create_engine(parsed, isolation_level="AUTOCOMMIT")
    try:
        try:
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{scratch.database}"'))
        except sa.exc.SQLAlchemyError as exc:
            raise BackupError(f"cannot create the scratch database the backup is checked in first "
                              f"({_one_line(exc)}); grant CREATEDB to {parsed.username or 'the user'} or "
                              f"restore as a user who has it; {NOTHING_CHANGED}") from exc
        try:
            try:
                _pg_restore(backup, scratch, clean=False)
            except BackupError as exc:
                raise BackupError(f"{exc}; {NOTHING_CHANGED}") from exc
            _compare(_manifest_at(scratch), meta)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{scratch.database}" WITH (FORCE)'))
    finally:
        admin.dispose()
    _pg_restore(backup, parsed, clean=clean)  # one transaction: on failure the target stays as it was


def restore_database(backup: str | Path, url: str, *, force: bool = False) -> dict:
    """Restore ``backup`` into the database at ``url`` once a scratch copy matches the manifest; returns it.

    Refuses a target that already holds tables unless ``force`` (stop the study's servers first). Every
    failure is a :class:`BackupError`.
    """
    try:
        return _restore(Path(backup), url, force=force)
    except BackupError:
        raise
    except (sa.exc.SQLAlchemyError, sqlite3.Error, OSError, subprocess.SubprocessError) as exc:
        raise BackupError(_one_line(exc)) from exc


def _restore(backup: Path, url: str, *, force: bool) -> dict:
    parsed = make_url(url)
    meta = read_manifest(backup)
    _check_file(backup, meta)
    backend = parsed.get_backend_name()
    if meta["backend"] != backend:
        raise BackupError(f"this is a {meta['backend']} backup; restore it into a {meta['backend']} database")
    if backend not in ("sqlite", "postgresql"):
        raise BackupError(f"restores into {backend} databases are not supported")
    exists = _holds_tables(url)
    if exists and not force:
        raise BackupError("the target database already holds tables; stop its servers and pass --force "
                          "to replace its contents")
    if backend == "sqlite":
        _restore_sqlite(backup, sqlite_path(parsed), meta)
    else:
        _restore_postgres(backup, url, meta, clean=exists)
        differ = _differences(_manifest_at(url), meta)
        if differ:  # a verified dump restored differently: say so, do not hide it
            raise BackupError(f"restored, but the target then differed from the manifest in: {', '.join(differ)}")
    audit(url, "restore", {"file": str(backup), "made_at": meta.get("made_at")})
    return meta
