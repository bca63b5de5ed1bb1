"""Fixtures for the recruitment tests: the engine kit, and the Prolific stand-in started per test."""

import pytest
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

from .prolific_standin import StandIn, serve

TOKEN = "tok-" + "s3cr3t" * 6  # what the stand-in accepts; must never show up anywhere else


@pytest.fixture
def prolific():
    """``(state, base_url)`` of a Prolific stand-in listening on a local port for this test."""
    state = StandIn(token=TOKEN)
    server, url = serve(state)
    try:
        yield state, url
    finally:
        server.shutdown()
        server.server_close()
