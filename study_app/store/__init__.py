"""Storage: SQLAlchemy schema, repository, CSV export. The only package that issues SQL.

``Repository(make_engine(resolve_db_url(...)))`` is all the app needs; the engine calls the repository.
"""

from study_app.store.database import DatabaseConfigError, make_engine, resolve_db_url
from study_app.store.repository import Repository

__all__ = ["DatabaseConfigError", "Repository", "make_engine", "resolve_db_url"]
