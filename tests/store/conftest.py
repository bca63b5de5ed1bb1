"""Fixtures for store tests, shared with the engine tests through ``tests/study/kit.py``."""

import secrets

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
