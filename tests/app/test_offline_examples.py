"""The offline examples (``examples/studies/offline/``): one per protocol and one with validated instruments, on
the bundled checkpoints and the demo's stimuli, every map in the demo's committed cache, so each passes ``xai-study check`` on a fresh
clone without internet (with a researcher password, as any real study needs). The browser walks are in
``tests/e2e/test_offline_examples_browser.py``."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from study_app.cli import main as cli_main

PROJECT_ROOT = Path(__file__).resolve().parents[2]
OFFLINE = PROJECT_ROOT / "examples" / "studies" / "offline"
BUNDLED = {(PROJECT_ROOT / "checkpoints" / name).resolve()
           for name in ("mri_resnet18", "catdog_resnet18", "mri_decision_resnet18")}


PROTOCOLS = ["rate", "forward_simulation", "verification", "distinction", "decision"]
INSTRUMENTS = "instruments"  # the example of validated questionnaires (on a verification task)
KINDS = ["similar_examples", "prediction_grid", "concepts"]  # one example per explanation kind beyond maps


def test_one_offline_example_per_protocol_on_the_bundled_checkpoints():
    protocols = []
    for path in sorted(OFFLINE.glob("*.toml")):
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        assert (path.parent / data["study"]["cache"]).resolve() == (PROJECT_ROOT / "demo" / "cache").resolve()
        for task in data["tasks"]:
            protocols += [task["protocol"]] if path.stem not in (INSTRUMENTS, *KINDS) else []
            assert (path.parent / task["checkpoint"]).resolve() in BUNDLED, path
            assert (path.parent / task["stimuli"]).resolve().is_relative_to(PROJECT_ROOT / "demo" / "stimuli")
        header = path.read_text(encoding="utf-8")
        relative = path.relative_to(PROJECT_ROOT)
        assert f"streamlit run study_app/main.py -- --study {relative}" in header  # the README's form
    assert sorted(protocols) == sorted(PROTOCOLS)
    for kind in KINDS:  # each kind's example shows it (its file is named for it)
        data = tomllib.loads((OFFLINE / f"{kind}.toml").read_text(encoding="utf-8"))
        assert kind in {m["name"] for m in data["methods"]}, kind


def test_the_instruments_example_asks_three_validated_scales():
    from study_app.study import load_study  # noqa: PLC0415
    from study_app.study.instruments import get_instrument  # noqa: PLC0415

    asked = {q.id for q in load_study(OFFLINE / f"{INSTRUMENTS}.toml").post_questionnaire}
    for name in ("jian_trust", "nasa_tlx", "sus"):
        assert {f"{name}_{key}" for key in get_instrument(name).keys} <= asked, name


@pytest.mark.parametrize("protocol", [*PROTOCOLS, INSTRUMENTS, *KINDS])
def test_offline_example_is_ready_to_launch(protocol, monkeypatch, capsys, tmp_path):
    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XAI_STUDY_RESEARCHER_PASSWORD", "an example password")
    code = cli_main(["check", "--study", str(OFFLINE / f"{protocol}.toml"),
                     "--db", f"sqlite:///{tmp_path / 'responses.sqlite'}"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "READY to launch" in out and "maps cached" in out
