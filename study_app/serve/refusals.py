"""Every reason a server refuses a study's database, found without changing anything.

A server (``xai-study serve``, ``streamlit run``) never changes a database's schema: it creates the tables of
an empty one and otherwise refuses, naming the backup and upgrade commands. ``xai-study check`` and ``serve``
ask this module *before* anything starts, so that no participant ever meets a server that refuses:

* the schema revision differs from the code's (behind, made before migrations, newer, or foreign tables:
  :func:`study_app.store.migrate.schema_refusal`);
* the study began before schema revision 0002 (its Prolific-id key is in the database) and hashes external
  ids, but the configured key is not ``database`` (:func:`study_app.study.id_key.database_key_message`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa

from study_app.store import make_engine
from study_app.store.migrate import schema_refusal
from study_app.study.errors import StudyFileError
from study_app.study.id_key import IN_DATABASE, database_key_message
from study_app.study.study_file import read_study_file


@dataclass(frozen=True)
class StudyKeys:
    """What the refusals need of a study: its id and whether it hashes external ids."""

    slug: str
    hashes_ids: bool


def study_keys(path: str | Path) -> StudyKeys | None:
    """Read from the study file alone (no images, no models); ``None`` when it cannot be read (the server
    reports a broken study file itself)."""
    try:
        table = read_study_file(path).study_table
    except StudyFileError:
        return None
    slug = table.get("id")
    if not isinstance(slug, str) or not slug:
        return None
    return StudyKeys(slug, not bool(table.get("keep_external_ids", False)))


def keys_in_database(conn: sa.Connection, slug: str) -> bool:
    """Whether a version of study ``slug`` keeps its external-id key in the database (begun before 0002)."""
    if "studies" not in sa.inspect(conn).get_table_names():
        return False
    query = sa.text("SELECT COUNT(*) FROM studies WHERE slug = :slug AND id_key IS NOT NULL")
    return bool(conn.execute(query, {"slug": slug}).scalar_one())


def id_key_refusal(conn: sa.Connection, study: StudyKeys, *, id_key: str | None) -> str | None:
    """``id_key``: the configured external-id key's text (the settings' ``id_key``; ``None``: none)."""
    if not study.hashes_ids or not keys_in_database(conn, study.slug):
        return None
    if id_key is not None and id_key.strip().lower() == IN_DATABASE:
        return None
    return database_key_message(study.slug)


def database_refusals(url: str, study: StudyKeys | None = None, *, id_key: str | None = None) -> list[str]:
    """Why a server would refuse the database at ``url`` for ``study`` (empty: it would not), with the
    configured external-id key ``id_key`` (the settings' value). Reads only."""
    engine = make_engine(url)
    try:
        found = schema_refusal(engine)
        problems = [str(found)] if found is not None else []
        if study is not None:
            with engine.connect() as conn:
                key = id_key_refusal(conn, study, id_key=id_key)
            if key is not None:
                problems.append(key if not problems else f"After the upgrade: {key}")
        return problems
    finally:
        engine.dispose()
