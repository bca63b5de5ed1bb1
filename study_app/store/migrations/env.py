"""Alembic's entry point for its own command line (``alembic -x db=URL ...``, e.g. ``revision --autogenerate``).

The app and ``xai-study db`` never load this file: :mod:`study_app.store.migrate` runs the same
:func:`~study_app.store.migrate.run_in_context` directly, so both paths configure migrations identically
(batch mode on SQLite, the schema's metadata as the autogenerate target).
"""

from alembic import context

from study_app.store.migrate import run_in_context

run_in_context(context)
