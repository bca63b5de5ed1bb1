"""``xai-study check`` refuses SQLite when more than one process will serve the study: from
``--replicas N`` or from ``XAI_STUDY_REPLICAS``, which ``xai-study serve`` sets on every replica (so the
researcher's readiness page inside a replica shows it too)."""

from __future__ import annotations

import argparse

from study_app.readiness import add_arguments, check_readiness, check_replicas
from study_app.settings import Settings, resolve


def test_sqlite_fails_only_with_several_processes():
    assert check_replicas("sqlite:///r.sqlite", 1).ok
    refused = check_replicas("sqlite:///r.sqlite", 2)
    assert not refused.ok and refused.blocking and "PostgreSQL" in refused.detail
    assert check_replicas("postgresql+psycopg://u:p@h/db", 4).ok
    assert not check_replicas("not a url", 2).ok


def test_replicas_come_from_the_command_line_then_the_environment():
    def replicas(env, given=None):
        setting = resolve(env=env, secrets={}, replicas=given).replicas
        return setting.value, setting.source

    assert replicas({}) == (1, "default")
    assert replicas({"XAI_STUDY_REPLICAS": "3"}) == (3, "environment XAI_STUDY_REPLICAS")
    assert replicas({"XAI_STUDY_REPLICAS": "three"}) == (1, "default")
    assert replicas({"XAI_STUDY_REPLICAS": "3"}, given=2) == (2, "command line")


def test_check_blocks_launch_on_shared_sqlite(tmp_path, monkeypatch):
    """Cheap: a study file that does not exist stops the study checks early; the replica check still runs
    and makes the verdict NOT READY on its own."""
    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = Settings.given(tmp_path / "missing.toml", "x" * 12)
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    by_name = {c.name: c for c in check_readiness(settings, db_url=db, replicas=2).checks}
    assert not by_name["database fits the number of processes"].ok
    monkeypatch.setenv("XAI_STUDY_REPLICAS", "2")
    settings = Settings.given(tmp_path / "missing.toml", "x" * 12)  # resolved again: a replica of serve
    assert not {c.name: c for c in check_readiness(settings).checks}["database fits the number of processes"].ok
    assert {c.name: c for c in check_readiness(settings, db_url=db, replicas=1).checks}[
        "database fits the number of processes"].ok


def test_check_has_a_replicas_option():
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    assert parser.parse_args(["--replicas", "4"]).replicas == 4
    assert parser.parse_args([]).replicas is None
