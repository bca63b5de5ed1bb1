"""Backups that are safe while participants write, and restores that prove they are complete.

* SQLite: the online backup API (``sqlite3.Connection.backup``) copies a consistent snapshot while servers
  keep writing (in WAL mode readers never block the writer); the copy is checked with ``PRAGMA
  integrity_check`` and moved into place atomically.
* PostgreSQL: ``pg_dump --format=custom`` run on a snapshot exported from our own ``REPEATABLE READ``
  transaction (``--snapshot``), so the dump and the manifest below describe exactly the same data. A URL
  whose ``options`` set ``search_path`` dumps that schema only.

Every backup gets a manifest (``FILE.manifest.json``): the SHA-256 and size of the backup file, and the row
count and a SHA-256 over the rows, in primary key order, of every table. :mod:`study_app.store.restore`
checks a backup against it before anything replaces a database. Backups and manifests are owner-only (0600).
Both backup and restore are written to the researcher audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from study_app.store.database import make_engine
from study_app.store.logs import cli_actor
from study_app.store.private_files import create_private, write_private_text
from study_app.store.repository import Repository


class BackupError(RuntimeError):
    """The backup or restore could not be made or verified; the message says why."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest_path: Path
    manifest: dict


def manifest_path(backup: Path) -> Path:
    return backup.with_name(backup.name + ".manifest.json")


def file_digest(path: Path) -> tuple[int, str]:
    """``(size in bytes, SHA-256)`` of a file, read in 1 MiB blocks."""
    digest, size = hashlib.sha256(), 0
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
            size += len(block)
    return size, digest.hexdigest()


def table_manifest(conn: sa.Connection) -> dict[str, dict]:
    """Row count and SHA-256 of the rows (primary-key order) of every table, read in ``conn``'s transaction."""
    found = sa.inspect(conn)
    out = {}
    for name in sorted(found.get_table_names()):
        table = sa.Table(name, sa.MetaData(), autoload_with=conn)
        order = list(table.primary_key.columns) or list(table.columns)
        digest, rows = hashlib.sha256(), 0
        for row in conn.execute(sa.select(table).order_by(*order)):
            digest.update(json.dumps(list(row), default=str, ensure_ascii=False).encode("utf-8", "surrogatepass"))
            digest.update(b"\n")
            rows += 1
        out[name] = {"rows": rows, "sha256": digest.hexdigest()}
    return out


def sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def pg_command_env(url: URL) -> tuple[list[str], dict[str, str]]:
    """libpq arguments (no password on the command line) and the environment carrying the password."""
    args = ["--dbname", url.database or "postgres"]
    if url.host:
        args += ["--host", url.host]
    if url.port:
        args += ["--port", str(url.port)]
    if url.username:
        args += ["--username", url.username]
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    return args, env


def _pg_schema(url: URL) -> str | None:
    options = url.query.get("options")
    options = options[-1] if isinstance(options, tuple) else options
    match = re.search(r"-csearch_path=([A-Za-z_][A-Za-z0-9_]*)", options or "")
    return match.group(1) if match else None


def pg_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise BackupError(f"{name} not found: install the PostgreSQL client (Debian: postgresql-client)")
    return path


def audit(url: str, action: str, detail: dict) -> None:
    """Best effort: a database at another schema revision is still backed up, just not audited."""
    try:
        repo = Repository(make_engine(url), create_tables=False)
        try:
            repo.log_researcher_action(action, "ok", dt.datetime.now(dt.UTC), actor=cli_actor(), detail=detail)
        finally:
            repo.dispose()
    except Exception:  # noqa: BLE001, S110 - the backup itself succeeded; the audit entry is secondary
        pass


def _copy(url: str, parsed: URL, tmp: Path) -> dict:
    """Copy the database into ``tmp`` (already created, owner-only); returns the copy's table manifest."""
    if parsed.get_backend_name() == "sqlite":
        source_path = sqlite_path(parsed)
        if not source_path.is_file():
            raise BackupError(f"no database at {source_path}")
        with closing(sqlite3.connect(source_path, timeout=60)) as src, closing(sqlite3.connect(tmp)) as dst:
            src.backup(dst)  # one step: a consistent snapshot, writers keep going (WAL)
        with closing(sqlite3.connect(tmp)) as check:
            verdict = check.execute("PRAGMA integrity_check").fetchone()[0]
        if verdict != "ok":
            raise BackupError(f"the copy failed its integrity check: {verdict}")
        engine = make_engine(f"sqlite:///{tmp}")
        try:
            with engine.connect() as conn:
                manifest = table_manifest(conn)
        finally:
            engine.dispose()
    elif parsed.get_backend_name() == "postgresql":
        engine = make_engine(url)
        try:
            with engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
                snapshot = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
                manifest = table_manifest(conn)
                args, env = pg_command_env(parsed)
                schema = _pg_schema(parsed)
                command = [pg_tool("pg_dump"), "--format=custom", "--no-owner", "--snapshot", snapshot,
                           "--file", str(tmp), *(["--schema", schema] if schema else []), *args]
                done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=3600)
                if done.returncode != 0:
                    raise BackupError(f"pg_dump failed: {done.stderr.strip()}")
        finally:
            engine.dispose()
    else:
        raise BackupError(f"backups of {parsed.get_backend_name()} databases are not supported")
    return manifest


def backup_database(url: str, out: str | Path) -> BackupResult:
    """Back up the database at ``url`` into ``out`` (and its manifest beside it), while it is in use."""
    parsed, out = make_url(url), Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.unlink(missing_ok=True)
    create_private(tmp)  # owner-only from the start: it holds every participant's data
    try:
        manifest = _copy(url, parsed, tmp)
    except BaseException:
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            leftover.unlink(missing_ok=True)
        raise
    size, digest = file_digest(tmp)
    os.replace(tmp, out)
    meta = {"backend": parsed.get_backend_name(), "made_at": dt.datetime.now(dt.UTC).isoformat(),
            "file_bytes": size, "file_sha256": digest, "tables": manifest}
    write_private_text(manifest_path(out), json.dumps(meta, indent=2, sort_keys=True))
    audit(url, "backup", {"file": str(out), "rows": {t: m["rows"] for t, m in manifest.items()}})
    return BackupResult(out, manifest_path(out), meta)
