"""Schema upgrades: a study database made by an earlier release keeps working after the code gains a column.

Tables are created only through the Alembic revisions in ``migrations/`` (shipped inside the package), so
every database carries its revision in ``alembic_version`` and a new release knows exactly what to change.
Two entry points, with different powers on purpose:

* :func:`ensure_schema` runs whenever the app (or ``xai-study serve``) opens a database. It creates the
  schema of an *empty* database (a fresh study needs no command) and otherwise only checks: a server never
  alters a database that holds participants' answers behind the researcher's back. A mismatch raises
  :class:`SchemaMismatch`, whose message names the backup and upgrade commands to run;
  :func:`schema_refusal` finds the same without raising or writing (``xai-study check``).
* :func:`upgrade_database` (``xai-study db upgrade``) applies the missing revisions.

Databases of the release before migrations (tables, no ``alembic_version``) are recognised by comparing
their tables with the baseline revision and stamped with it. Everything that changes a database happens in
one transaction under a lock (PostgreSQL: an advisory lock; SQLite: the write lock taken by ``BEGIN
IMMEDIATE``), so several servers starting at once on one database create or upgrade it exactly once.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url

from study_app.store.database import READ_ONLY_OPTION, make_engine, resolve_db_url
from study_app.store.schema import Base

HEAD_COMMAND = "xai-study db upgrade"
MIGRATIONS_DIR = Path(__file__).with_name("migrations")
BASELINE_REVISION = "0001_baseline"
VERSION_TABLE = "alembic_version"
# Per database *and* schema, so databases in separate PostgreSQL schemas never wait for each other.
PG_LOCK_SQL = "SELECT pg_advisory_xact_lock(hashtext('xai-study schema migration ' || current_schema()))"

# Alembic routes ``op`` and ``context`` through module-level proxies, so two migrations in one process must
# not overlap (even on different databases). Taken before any database lock, so the order is always the same.
_PROCESS_LOCK = threading.RLock()


class SchemaMismatch(RuntimeError):
    """The database's schema revision is not the one this code needs; the message says which command fixes it."""

    def __init__(self, message: str, *, db_revision: str | None, head_revision: str):
        super().__init__(message)
        self.db_revision = db_revision
        self.head_revision = head_revision


def display_url(url: str | URL) -> str:
    """The URL with any password left out (not masked), so it can be pasted into a command."""
    parsed = make_url(url)
    return parsed._replace(password=None).render_as_string(hide_password=False)


def upgrade_command(url: str | URL) -> str:
    return f"{HEAD_COMMAND} --db {shlex.quote(display_url(url))}"


def backup_command(url: str | URL) -> str:
    return f"xai-study backup --db {shlex.quote(display_url(url))} --out BACKUP_FILE"


def make_config(script_location: str | Path | None = None, connection: Connection | None = None) -> Config:
    """Alembic configuration without an ini file: the migrations folder inside the installed package."""
    config = Config()
    config.set_main_option("script_location", str(script_location or MIGRATIONS_DIR).replace("%", "%%"))
    config.set_main_option("file_template", "%%(rev)s")  # revision ids carry their slug: 0002_add_x.py
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def scripts(script_location: str | Path | None = None) -> ScriptDirectory:
    """The revisions, parsed once per folder state (a folder that gains a file is read again)."""
    location = str(script_location or MIGRATIONS_DIR)
    versions = Path(location) / "versions"
    return _scripts(location, versions.stat().st_mtime_ns if versions.is_dir() else 0)


@lru_cache(maxsize=16)
def _scripts(location: str, _stamp: int) -> ScriptDirectory:
    directory = ScriptDirectory.from_config(make_config(location))
    directory.get_current_head()  # parse now, once, rather than lazily in several threads
    return directory


def run_in_context(context) -> None:
    """Configure and run migrations in an Alembic environment; shared by env.py and this module."""
    connection = context.config.attributes.get("connection")
    if connection is None:  # alembic's own command line: ``alembic -x db=URL ...``
        if context.is_offline_mode():
            raise RuntimeError("offline (--sql) migrations are not supported; run against a database")
        engine = make_engine(context.get_x_argument(as_dictionary=True).get("db") or resolve_db_url())
        try:
            with _PROCESS_LOCK, _locked_connection(engine) as conn:
                _configure_and_run(context, conn)
        finally:
            engine.dispose()
    else:
        _configure_and_run(context, connection)


def _configure_and_run(context, connection: Connection) -> None:
    # Batch mode: SQLite cannot ALTER most things, so Alembic copies the table; elsewhere it is plain ALTER.
    context.configure(connection=connection, target_metadata=Base.metadata, compare_type=True,
                      render_as_batch=connection.dialect.name == "sqlite")
    with context.begin_transaction():
        context.run_migrations()


@contextmanager
def _locked_connection(engine: Engine) -> Iterator[Connection]:
    """A connection inside one transaction that holds the database's migration lock until commit."""
    with engine.connect() as conn:
        raw = conn.connection.driver_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            # A batch migration drops and recreates tables; with foreign keys on, dropping ``participants``
            # would cascade into every answer. The pragma only works outside a transaction, hence here.
            foreign_keys = raw.execute("PRAGMA foreign_keys").fetchone()[0]
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.begin():  # SQLite from make_engine: BEGIN IMMEDIATE, i.e. the write lock
                if conn.dialect.name == "postgresql":
                    conn.execute(text(PG_LOCK_SQL))
                yield conn
                if raw is not None:
                    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                    if broken:
                        raise RuntimeError(f"migration left broken foreign keys (rolled back): {broken[:5]}")
        finally:
            if raw is not None:
                raw.execute(f"PRAGMA foreign_keys={int(foreign_keys)}")


def _db_revision(conn: Connection) -> str | None:
    heads = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).get_current_heads()
    if len(heads) > 1:
        raise SchemaMismatch(f"the database records several schema revisions at once ({', '.join(heads)}); "
                             "it was changed outside xai-study", db_revision=",".join(heads), head_revision="?")
    return heads[0] if heads else None


def schema_state(engine: Engine, *, script_location: str | Path | None = None) -> tuple[str | None, str]:
    """``(database revision or None, the code's head revision)``, read without taking any lock."""
    head = scripts(script_location).get_current_head()
    with engine.execution_options(**{READ_ONLY_OPTION: True}).connect() as conn:
        return _db_revision(conn), head


def _run(conn: Connection, script_location: str | Path | None, destination: str) -> None:
    directory = scripts(script_location)

    def upgrade(revision, _context):
        return directory._upgrade_revs(destination, revision)

    config = make_config(script_location, conn)
    with _PROCESS_LOCK, EnvironmentContext(config, directory, fn=upgrade, destination_rev=destination) as env:
        run_in_context(env)


@lru_cache(maxsize=1)
def _baseline_columns() -> dict[str, frozenset[str]]:
    """Table -> column names as the baseline revision creates them (run once on an in-memory database)."""
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as conn:
            _run(conn, MIGRATIONS_DIR, BASELINE_REVISION)
            found = inspect(conn)
            return {name: frozenset(c["name"] for c in found.get_columns(name))
                    for name in found.get_table_names() if name != VERSION_TABLE}
    finally:
        engine.dispose()


def baseline_tables() -> frozenset[str]:
    """Names of the tables the baseline revision creates: a database with any of them holds study data."""
    return frozenset(_baseline_columns())


def upgrade_to_head_on(conn: Connection, script_location: str | Path | None = None) -> None:
    """Run every revision on an open connection; for scratch databases (no lock, no checks)."""
    _run(conn, script_location, "head")


def process_lock() -> threading.RLock:
    """Held while Alembic's module-level proxies are in use (also by ``command.revision`` callers)."""
    return _PROCESS_LOCK


def _baseline_difference(conn: Connection) -> str | None:
    found = inspect(conn)
    present = set(found.get_table_names())
    problems = []
    for table, columns in sorted(_baseline_columns().items()):
        if table not in present:
            problems.append(f"no table {table}")
            continue
        have = {c["name"] for c in found.get_columns(table)}
        if have != columns:
            extra, missing = sorted(have - columns), sorted(columns - have)
            problems.append(f"{table}: " + ", ".join([f"extra column {c}" for c in extra]
                                                     + [f"missing column {c}" for c in missing]))
    return "; ".join(problems) or None


def _mismatch(kind: str, url: URL, db_revision: str | None, head: str, detail: str = "") -> SchemaMismatch:
    shown = display_url(url)
    command = f"Back it up ({backup_command(url)}), then run: {upgrade_command(url)}"
    messages = {
        "behind": f"The study database {shown} is at schema revision {db_revision}, but this version of "
                  f"xai-study needs revision {head}; a server never upgrades it by itself. {command}",
        "unversioned": f"The study database {shown} was made by an xai-study release without schema "
                       f"migrations (it has no {VERSION_TABLE} table); this version needs schema revision "
                       f"{head}; a server never upgrades it by itself. {command}",
        "empty": f"The database {shown} has no study tables yet. Create them with: {upgrade_command(url)}",
        "unknown": f"The study database {shown} is at schema revision {db_revision}, which this version of "
                   f"xai-study does not know (its newest is {head}): a newer release upgraded it. Install "
                   f"that release or a later one; '{HEAD_COMMAND}' never downgrades.",
        "foreign": f"The database {shown} has study tables but no {VERSION_TABLE} table, and they differ "
                   f"from the first release's schema ({detail}). Nothing was changed; restore it from a "
                   f"backup or point --db at the right database before running '{HEAD_COMMAND}'.",
    }
    return SchemaMismatch(messages[kind], db_revision=db_revision, head_revision=head)


def _migrate(engine: Engine, *, upgrade: bool, create_if_empty: bool,
             script_location: str | Path | None) -> str:
    directory = scripts(script_location)
    head = directory.get_current_head()
    with _PROCESS_LOCK, _locked_connection(engine) as conn:
        revision = _db_revision(conn)  # read again under the lock: another process may have just upgraded
        if revision == head:
            return head
        if revision is None:
            tables = set(inspect(conn).get_table_names()) & baseline_tables()
            if not tables:
                if not (upgrade or create_if_empty):
                    raise _mismatch("empty", engine.url, None, head)
                _run(conn, script_location, "head")
                return head
            difference = _baseline_difference(conn)
            if difference:
                raise _mismatch("foreign", engine.url, None, head, difference)
            if not upgrade and head != BASELINE_REVISION:
                raise _mismatch("unversioned", engine.url, None, head)
            MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE}).stamp(
                directory, BASELINE_REVISION)
            revision = BASELINE_REVISION
            if revision == head:
                return head
        try:
            directory.get_revision(revision)
        except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
            raise _mismatch("unknown", engine.url, revision, head) from None
        if not upgrade:
            raise _mismatch("behind", engine.url, revision, head)
        _run(conn, script_location, "head")
        return head


def schema_refusal(engine: Engine, *, script_location: str | Path | None = None) -> SchemaMismatch | None:
    """Why :func:`ensure_schema` would refuse this database, or ``None`` (at head, or empty: it would create
    the tables). Reads only, takes no lock."""
    directory = scripts(script_location)
    head = directory.get_current_head()
    with engine.execution_options(**{READ_ONLY_OPTION: True}).connect() as conn:
        try:
            revision = _db_revision(conn)
        except SchemaMismatch as exc:
            return exc
        if revision == head:
            return None
        if revision is None:
            if not set(inspect(conn).get_table_names()) & baseline_tables():
                return None
            difference = _baseline_difference(conn)
            if difference:
                return _mismatch("foreign", engine.url, None, head, difference)
            return None if head == BASELINE_REVISION else _mismatch("unversioned", engine.url, None, head)
    try:
        directory.get_revision(revision)
    except Exception:  # noqa: BLE001 - alembic raises several kinds for an unknown id
        return _mismatch("unknown", engine.url, revision, head)
    return _mismatch("behind", engine.url, revision, head)


def ensure_schema(engine: Engine, *, create_if_empty: bool = True,
                  script_location: str | Path | None = None) -> str:
    """Make sure the code can use this database: create an empty one's schema, accept one at head, stamp a
    previous-release one when the head is still the baseline, and raise :class:`SchemaMismatch` otherwise
    (never an upgrade: that is ``xai-study db upgrade``). Returns the head revision."""
    db_revision, head = schema_state(engine, script_location=script_location)
    if db_revision == head:  # the common case: no lock, no write
        return head
    return _migrate(engine, upgrade=False, create_if_empty=create_if_empty, script_location=script_location)


def upgrade_database(url_or_engine: str | URL | Engine, *, script_location: str | Path | None = None) -> str:
    """Bring the database to the head revision (creating or stamping it as needed); returns the head.

    Safe to call from several processes at once: the first upgrades, the others wait and find it done.
    """
    owned = not isinstance(url_or_engine, Engine)
    if isinstance(url_or_engine, URL):
        url_or_engine = url_or_engine.render_as_string(hide_password=False)
    engine = make_engine(url_or_engine) if owned else url_or_engine
    try:
        return _migrate(engine, upgrade=True, create_if_empty=True, script_location=script_location)
    finally:
        if owned:
            engine.dispose()


def next_revision_id(message: str, script_location: str | Path | None = None) -> str:
    """``NNNN_slug``: numbered revisions read in order in the folder and in ``alembic_version``."""
    number = len(list(scripts(script_location).walk_revisions())) + 1
    slug = "".join(ch if ch.isalnum() else "_" for ch in message.lower()).strip("_")
    while "__" in slug:
        slug = slug.replace("__", "_")
    return f"{number:04d}_{slug[:40].rstrip('_')}" if slug else f"{number:04d}"


__all__ = ["BASELINE_REVISION", "HEAD_COMMAND", "MIGRATIONS_DIR", "SchemaMismatch", "backup_command", "display_url",
           "ensure_schema", "schema_refusal", "schema_state", "upgrade_command", "upgrade_database"]
