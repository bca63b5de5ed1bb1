"""Storage: SQLAlchemy schema, repository, backups. The only package that issues SQL; it imports nothing of
the study, the analysis or the export (:mod:`study_app.export` reads it).

``Repository(make_engine(resolve_db_url(...)))`` is all the app needs; the engine calls the repository.
"""

from study_app.store.database import DatabaseConfigError, make_engine, resolve_db_url
from study_app.store.repository import Repository

__all__ = ["DatabaseConfigError", "Repository", "make_engine", "resolve_db_url"]
