"""Fixtures for store tests, shared with the engine tests through ``tests/study/kit.py``."""

import contextlib
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from study.kit import (  # noqa: F401 - fixtures are found by name
    checkpoint_dir,
    clock,
    make_engine_for,
    make_study,
    pg_repo,
    postgres_url,
    repo,
    sqlite_repo,
    stimuli_dir,
)

from study_app.store import make_engine
from study_app.store.backup import table_manifest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """An empty database URL: a SQLite file, or a fresh PostgreSQL schema dropped afterwards."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.sqlite'}"
        return
    url = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = sa.create_engine(url)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield make_url(url).update_query_dict({"options": f"-csearch_path={schema}"}).render_as_string(
            hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextlib.contextmanager
def another_database(db_url: str, sqlite_file: Path, prefix: str) -> Iterator[str]:
    """An empty database of ``db_url``'s kind: ``sqlite_file`` (not created), or a new PostgreSQL database named
    ``prefix`` plus a random suffix, dropped afterwards."""
    url = make_url(db_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{sqlite_file}"
        return
    name = f"{prefix}_{secrets.token_hex(4)}"
    admin = sa.create_engine(url.set(query={}), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def manifest_of(url: str) -> dict:
    """The per-table manifest (row counts, checksums) of the database at ``url``."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return table_manifest(conn)
    finally:
        engine.dispose()
