"""Fixtures for store tests, shared with the engine tests through ``tests/study/kit.py``."""

from study.kit import (  # noqa: F401 - fixtures are found by name
    checkpoint_dir,
    clock,
    make_engine_for,
    make_study,
    pg_repo,
    repo,
    sqlite_repo,
    stimuli_dir,
)
