"""Storage: SQLAlchemy schema, repository, CSV export. The only package that issues SQL."""
