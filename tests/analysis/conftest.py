"""Fixtures for analysis tests: the engine and store kit, for tests that read a real export."""

from study.kit import (  # noqa: F401 - fixtures are found by name
    checkpoint_dir,
    clock,
    make_engine_for,
    make_study,
    repo,
    sqlite_repo,
    stimuli_dir,
)
