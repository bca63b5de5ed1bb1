"""``xai-study check`` and the readiness page: the same verdicts, non-zero exit when not ready."""

from __future__ import annotations

import os
from pathlib import Path

from app.conftest import PASSWORD_ENV
from app.drive import new_app, texts
from study_app.cli import main as cli_main
from study_app.ui import state_keys


def precompute(setup) -> int:
    from study_app.maps.coverage import precompute_study
    from study_app.maps.service import make_map_service
    from study_app.study import load_study

    return precompute_study(load_study(setup.study_file), service=make_map_service(os.environ["XAI_STUDY_CACHE"]))


def check_output(capsys, *args) -> tuple[int, str]:
    code = cli_main(["check", *args])
    return code, capsys.readouterr().out


def line(output: str, name: str) -> str:
    return next(row for row in output.splitlines() if name in row)


def test_not_ready_without_cache_and_password(setup_study, capsys):
    setup_study("verification", negative="gradcam")
    code, out = check_output(capsys)
    assert code == 1
    assert line(out, "attribution cache complete").startswith("FAIL")
    assert "not precomputed" in out
    assert line(out, "researcher password set").startswith("FAIL")
    assert line(out, "study file valid").startswith("ok")
    assert line(out, "checkpoints load").startswith("ok")
    assert line(out, "error details hidden").startswith("ok")  # the project's .streamlit/config.toml
    assert "NOT READY" in out


def test_ready_once_precomputed_with_a_password(setup_study, few_stimuli, capsys, monkeypatch):
    setup = setup_study("distinction", negative="gradcam", stimuli=few_stimuli)
    monkeypatch.setenv(PASSWORD_ENV, "a long researcher password")
    computed = precompute(setup)
    assert computed > 0
    code, out = check_output(capsys)
    assert code == 0, out
    assert computed == 6 * 3 * 2  # 6 images x (2 methods + negative control) x 2 candidate classes
    assert f"all {computed} maps cached" in out
    assert precompute(setup) == 0, "a second precompute finds everything cached"


def test_a_broken_study_is_named(setup_study, capsys, tmp_path):
    setup_study("verification")
    bad = tmp_path / "bad.toml"
    bad.write_text('[study]\nid = "x"\n', encoding="utf-8")
    code, out = check_output(capsys, "--study", str(bad))
    assert code == 1
    assert line(out, "study file valid").startswith("FAIL") and "study.title" in out


def test_visible_error_details_fail_the_check(setup_study, capsys, tmp_path, monkeypatch):
    setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, "a long researcher password")
    config = tmp_path / "config.toml"
    config.write_text('[client]\nshowErrorDetails = "full"\n', encoding="utf-8")
    code, out = check_output(capsys, "--config", str(config))
    assert code == 1
    assert line(out, "error details hidden").startswith("FAIL")


def test_readiness_page_shows_the_same_verdict(setup_study, few_stimuli, monkeypatch):
    setup = setup_study("verification", stimuli=few_stimuli)
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    at.switch_page("app_pages/researcher_readiness.py").run()
    assert "Not ready" in texts(at)
    monkeypatch.setenv(PASSWORD_ENV, "a long researcher password")
    precompute(setup)
    at.run()
    assert "Ready to launch" in texts(at)
    assert not at.exception


def test_project_config_is_study_safe():
    import tomllib

    config = tomllib.loads((Path(__file__).resolve().parents[2] / ".streamlit" / "config.toml").read_text())
    assert config["client"]["showErrorDetails"] == "none"
    assert config["client"]["toolbarMode"] == "minimal"
    assert config["browser"]["gatherUsageStats"] is False
    assert config["server"]["fileWatcherType"] == "none"


def test_study_file_precedence(tmp_path, monkeypatch):
    from study_app.settings import BUNDLED_EXAMPLE, resolve_settings

    a, b, c = (tmp_path / f"{n}.toml" for n in "abc")
    env = {"XAI_STUDY_FILE": str(b)}
    secrets = {"study_file": str(c), "researcher_password": "  "}
    assert resolve_settings(secrets, env, ["--study", str(a)]).study_file == a
    assert resolve_settings(secrets, env, []).study_file == b
    chosen = resolve_settings(secrets, {}, [])
    assert (chosen.study_file, chosen.source) == (c, "secrets.toml")
    assert chosen.researcher_password is None, "a blank password is no password"
    fallback = resolve_settings({}, {}, [])
    assert fallback.source in ("bundled demo", BUNDLED_EXAMPLE) and fallback.is_bundled_demo
