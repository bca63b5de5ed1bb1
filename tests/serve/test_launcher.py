"""The launcher's decisions, without starting anything: SQLite refused for several processes, a clear
message without HAProxy, one researcher password and one cookie secret for all replicas, and the
participant-safety settings passed to every replica equal the project's .streamlit/config.toml."""

from __future__ import annotations

import argparse
import socket
import tomllib
from pathlib import Path

import pytest

from study_app.serve import launcher, serve_cli
from study_app.serve.launcher import SAFE_STREAMLIT_OPTIONS, Deployment, DeploymentError
from study_app.serve.ports import parse_ports

PROJECT = Path(__file__).resolve().parents[2]
PG_URL = "postgresql+psycopg://xai:xai@127.0.0.1:5432/nowhere"


@pytest.fixture(autouse=True)
def no_configured_password(monkeypatch, tmp_path):
    monkeypatch.delenv("XAI_STUDY_RESEARCHER_PASSWORD", raising=False)
    monkeypatch.chdir(tmp_path)  # no .streamlit/secrets.toml here


def test_sqlite_is_refused_for_several_processes_but_fine_for_one(tmp_path):
    with pytest.raises(DeploymentError, match="cannot share a SQLite database.*PostgreSQL"):
        Deployment(None, f"sqlite:///{tmp_path / 'r.sqlite'}", replicas=2, log_dir=tmp_path)
    one = Deployment(None, f"sqlite:///{tmp_path / 'r.sqlite'}", replicas=1, log_dir=tmp_path)
    assert [r.name for r in one.replicas] == ["r1"]
    assert one.researcher_password is None and not one.password_generated  # the demo's own password stays


def test_replicas_share_one_generated_password_and_cookie_secret(tmp_path):
    d = Deployment(None, PG_URL, replicas=3, port=0, log_dir=tmp_path)
    assert d.password_generated and len(d.researcher_password) >= 12
    assert d._env["XAI_STUDY_RESEARCHER_PASSWORD"] == d.researcher_password
    assert d._env["XAI_STUDY_REPLICAS"] == "3" and d._env["XAI_STUDY_DB_URL"] == PG_URL
    assert len(d._env[launcher.ENV_COOKIE_SECRET]) == 64
    assert len({r.port for r in d.replicas} | {d.port}) == 4
    assert d.url == f"http://127.0.0.1:{d.port}"
    assert d.replica_for_cookie("r2") is d.replicas[1]
    with pytest.raises(KeyError, match="r9"):
        d.replica_for_cookie("r9")


def test_a_configured_password_is_used_not_generated(tmp_path):
    d = Deployment(None, PG_URL, replicas=2, env={"XAI_STUDY_RESEARCHER_PASSWORD": "configured password"},
                   log_dir=tmp_path)
    assert d.researcher_password == "configured password" and not d.password_generated


def test_missing_haproxy_says_how_to_install(monkeypatch):
    monkeypatch.setattr(launcher.shutil, "which", lambda name: None)
    monkeypatch.setattr(launcher, "HAPROXY_PATHS", ())
    with pytest.raises(DeploymentError, match="apt-get install haproxy"):
        launcher.find_haproxy()


def test_safe_options_equal_the_project_config():
    """Replicas started from any directory get the same participant-safety settings as the project's
    .streamlit/config.toml (a pip install has no project config to read)."""
    config = tomllib.loads((PROJECT / ".streamlit" / "config.toml").read_text())
    for key, value in SAFE_STREAMLIT_OPTIONS.items():
        section, option = key.split(".")
        expected = config[section][option]
        assert str(expected).lower() == value, key
    assert SAFE_STREAMLIT_OPTIONS["client.showErrorDetails"] == "none"


def test_serve_cli_refuses_sqlite_with_several_replicas(tmp_path, capsys):
    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    args = parser.parse_args(["--replicas", "2", "--db", f"sqlite:///{tmp_path / 'r.sqlite'}"])
    assert serve_cli.run(args) == 2
    assert "cannot share a SQLite database" in capsys.readouterr().out


def _serve_args(*argv):
    parser = argparse.ArgumentParser()
    serve_cli.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_the_proxy_listens_on_loopback_unless_told_otherwise(tmp_path):
    """It used to bind every interface by default: a study exposed before its web server was set up."""
    args = _serve_args()
    assert args.host == "127.0.0.1"
    d = Deployment(None, PG_URL, replicas=2, log_dir=tmp_path, bind_address=args.host)
    config = launcher.render_config(d.proxy_settings())
    assert f"bind 127.0.0.1:{d.port}" in config and "bind *:" not in config
    public = Deployment(None, PG_URL, replicas=2, log_dir=tmp_path, bind_address=_serve_args("--host", "0.0.0.0").host)
    assert f"bind 0.0.0.0:{public.port}" in launcher.render_config(public.proxy_settings())


def test_replica_ports_can_be_fixed(tmp_path):
    first, second = launcher.free_port(), launcher.free_port()
    while second == first:
        second = launcher.free_port()
    assert parse_ports(f"{first},{second}") == [first, second]
    assert parse_ports("8501-8503") == [8501, 8502, 8503] and parse_ports("8501-8502,8510") == [8501, 8502, 8510]
    d = Deployment(None, PG_URL, replicas=2, log_dir=tmp_path, replica_ports=[first, second])
    assert [r.port for r in d.replicas] == [first, second]
    assert [b.port for b in d.proxy_settings().backends] == [first, second]


@pytest.mark.parametrize("ports,message", [
    ("8501", "1 port\\(s\\) for 2 replica\\(s\\)"),
    ("8501,8501", "distinct"),
    ("8503-8501", "runs backwards"),
    ("85o1", "expected ports like"),
])
def test_wrong_replica_ports_are_refused_with_one_line(ports, message, tmp_path, capsys):
    with pytest.raises(DeploymentError, match=message):
        Deployment(None, PG_URL, replicas=2, log_dir=tmp_path, replica_ports=parse_ports(ports))
    args = _serve_args("--replicas", "2", "--db", PG_URL, "--ports", ports, "--log-dir", str(tmp_path))
    assert serve_cli.run(args) == 2
    out = capsys.readouterr().out
    assert "xai-study serve: " in out and "Traceback" not in out


def test_a_replica_port_in_use_is_refused(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = busy.getsockname()[1]
        with pytest.raises(DeploymentError, match=f"replica port {taken} on 127.0.0.1 is not free"):
            Deployment(None, PG_URL, replicas=1, log_dir=tmp_path, replica_ports=[taken])
