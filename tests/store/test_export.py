"""CSV export: provenance on every row, formula cells neutralised, Unicode intact, the CLI end to end."""

from __future__ import annotations

import csv
import json
import random
from types import SimpleNamespace

import pandas as pd
import pytest
from study.kit import answer_for, run_participant

from study_app.export import export_study, neutralise_cell, response_rows, write_csv


def _read(path):
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


@pytest.mark.parametrize(
    "raw,expected",
    [
        ("=1+1", "'=1+1"),
        ("+49 170 000", "'+49 170 000"),
        ("-2", "'-2"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tcmd", "'\tcmd"),
        ("\rcmd", "'\rcmd"),
        ("fine = ok", "fine = ok"),
        ("", ""),
        (-2, -2),
        (0.5, 0.5),
        (None, None),
    ],
)
def test_neutralise_cell(raw, expected):
    assert neutralise_cell(raw) == expected


def test_write_csv_neutralises_and_round_trips_unicode(tmp_path):
    rows = [{"a": "=cmd|' /C calc'!A0", "b": "👍🏽 مرحبا עברית", "c": "x\x00y", "d": "z" * 10_000, "e": -1.5,
             "f": True, "g": {"k": "=v"}}]
    path = tmp_path / "out.csv"
    assert write_csv(path, rows, list("abcdefg")) == 1
    (back,) = _read(path)
    assert back["a"] == "'=cmd|' /C calc'!A0"
    assert back["b"] == "👍🏽 مرحبا עברית"
    assert back["c"] == "x\x00y"
    assert back["d"] == "z" * 10_000
    assert back["e"] == "-1.5"  # numbers are numbers, not neutralised text
    assert back["f"] == "true"
    assert json.loads(back["g"]) == {"k": "=v"}  # JSON cells start with { and are safe
    frame = pd.read_csv(path, keep_default_na=False)
    assert frame.loc[0, "b"] == "👍🏽 مرحبا עברית"
    assert frame.loc[0, "e"] == -1.5


def _complete(engine, n=3, seed=0, comment=None):
    tokens = []
    for i in range(n):
        token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": f"P{i}"})
        rng = random.Random(seed + i)
        step = engine.current_step(token)
        while step.kind != "done":
            answer = answer_for(step, rng)
            if comment is not None and step.kind == "trial" and step.trial.phase != "learn":
                answer["comment"] = comment
            step = engine.submit(token, step.step_id, answer)
        tokens.append(token)
    return tokens


class FakeMaps:
    """A map server that says which map it served: the engine records what it hands out when a trial shows."""

    def __init__(self, map_hash=lambda step, m: f"hash-{step.image_id}-{m.key}"):
        self.calls, self.map_hash = [], map_hash

    def serve_step(self, step):
        self.calls.append(step.step_id)
        return [SimpleNamespace(png_sha256=f"png-{step.image_id}-{m.key}", cache_key=m.cache_key,
                                map_sha256=self.map_hash(step, m), checkpoint_sha256=step.checkpoint_sha256,
                                faithfulness={"deletion_auc": 0.25}) for m in step.maps]


def test_response_rows_carry_full_provenance(make_study, make_engine_for, repo, tmp_path):
    study = make_study("verification", trials=4, checks=1, control=True)
    maps = FakeMaps()
    engine = make_engine_for(study, repo, maps=maps)
    _complete(engine, n=3)
    calls = maps.calls

    result = export_study(repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    assert result.responses == 3 * 5 and result.participants == 3
    rows = _read(tmp_path / "r.csv")
    assert len(rows) == 15
    preds = engine.predictions["pets"]
    stimuli = {s.image_id: s for s in study.tasks[0].stimuli}
    for row in rows:
        assert row["study_id"] == study.id and row["study_sha256"] == study.sha256
        assert row["task"] == "pets" and row["protocol"] == "verification"
        stim = stimuli[row["image_id"]]
        assert row["image_sha256"] == stim.sha256 and row["true_label"] == stim.label
        pred = preds.by_image[row["image_id"]]
        assert row["predicted_label"] == pred.label
        assert float(row["predicted_prob"]) == pytest.approx(pred.prob)
        assert row["model_correct"] == str(pred.correct).lower()
        assert row["checkpoint_sha256"] == preds.checkpoint_sha256
        assert row["answer_decision"] in ("accept", "reject")
        assert int(row["response_time_ms"]) >= 0
        assert row["target_label"] == pred.label
        if row["methods"] == "none":
            assert row["map_sha256"] == row["png_sha256"] == row["map_cache_key"] == row["method_params"] == ""
        else:
            assert row["map_sha256"] == f"hash-{row['image_id']}-{row['methods']}"
            assert row["png_sha256"] == f"png-{row['image_id']}-{row['methods']}"
            assert len(row["map_cache_key"]) == 64  # the plan's key, as the map server used it
            assert row["faithfulness_deletion_auc"] == "0.25"
            assert json.loads(row["method_params"]).keys() == {row["methods"]}
        if row["is_attention_check"] == "true":
            assert row["attention_passed"] == "true" and row["correct"] == ""
        else:
            accepted = row["answer_decision"] == "accept"
            assert row["correct"] == str(accepted == pred.correct).lower()
    assert {r["methods"] for r in rows} == {"gradcam", "integrated_gradients", "none"}
    assert len(calls) == sum(r["methods"] != "none" for r in rows)  # once per shown trial with maps
    participants = _read(tmp_path / "p.csv")
    assert len(participants) == 3
    for p in participants:
        assert p["status"] == "completed" and p["trials_answered"] == "5" and p["trials_planned"] == "5"
        assert p["attention_checks"] == "1" and p["attention_checks_passed"] == "1"
        assert p["pre_age_band"] and p["pre_ml_experience"] and p["pre_domain_expertise"]
        assert p["prolific_pid"] in {engine.hash_external_id(f"P{i}") for i in range(3)}
        assert "token" not in p  # the resume secret never leaves the database
    exported = [e for e in repo.events(engine.record.id) if e.kind == "export"]
    assert len(exported) == 1 and exported[0].sha256 == result.responses_sha256


def test_rate_phases_merge_into_one_row(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("rate", trials=2, checks=0, extra='display = "side_by_side"'), repo)
    _complete(engine, n=1)
    rows = response_rows(repo, engine.record)
    assert len(rows) == 2
    for row in rows:
        assert row["phases"] == "trust;explanation"
        assert "answer_trust" in row
        assert {"answer_effect_gradcam", "answer_effect_integrated_gradients"} <= set(row)
        assert row["response_time_ms"] == row["response_time_ms_trust"] + row["response_time_ms_explanation"]
        assert row["methods"] in ("gradcam;integrated_gradients", "integrated_gradients;gradcam")


def test_distinction_rows_name_map_targets_and_multi_map_provenance(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("distinction", trials=2, checks=0), repo,
                             maps=FakeMaps(map_hash=lambda step, m: m.target))
    _complete(engine, n=1)
    rows = response_rows(repo, engine.record)
    for row in rows:
        assert sorted(row["map_targets"].split(";")) == ["cat", "dog"]
        key = row["methods"]
        assert row["map_sha256"] == {f"{key}->cat": "cat", f"{key}->dog": "dog"}
        assert row["answer_choice"] in ("cat", "dog")
        assert row["correct"] == (row["answer_choice"] == row["predicted_label"])


SAMPLED = {"split_half_spearman": 0.87, "n_evaluations": 512, "stopped": "budget", "enumerated_sizes": []}


class SampledMaps(FakeMaps):
    """Serves a convergence record, as the map service does for a sampled map (LIME, Kernel SHAP), with the maps
    of ``sampled`` (a method name standing in for one) and none with the others, which are deterministic."""

    def __init__(self, sampled: str = "integrated_gradients"):
        super().__init__()
        self.sampled = sampled

    def serve_step(self, step):
        return [SimpleNamespace(**vars(s), convergence=dict(SAMPLED) if m.name == self.sampled else None)
                for s, m in zip(super().serve_step(step), step.maps, strict=True)]


def test_sampled_maps_export_their_convergence_beside_the_faithfulness_scores(make_study, make_engine_for, repo,
                                                                               tmp_path):
    engine = make_engine_for(make_study("verification", trials=4, checks=0), repo, maps=SampledMaps())
    _complete(engine, n=2)
    export_study(repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    rows = _read(tmp_path / "r.csv")
    columns = ("convergence_split_half", "convergence_evaluations", "convergence_stopped")
    assert set(columns) <= set(rows[0])
    seen = set()
    for row in rows:
        seen.add(row["methods"])
        cells = tuple(row[c] for c in columns)
        if row["methods"] == "integrated_gradients":
            assert cells == ("0.87", "512", "budget") and row["faithfulness_deletion_auc"] == "0.25"
        else:  # a deterministic method (or no map): nothing sampled, nothing to report
            assert cells == ("", "", "")
    assert {"integrated_gradients", "gradcam"} <= seen


def test_several_maps_export_convergence_per_map(make_study, make_engine_for, repo):
    engine = make_engine_for(make_study("rate", trials=2, checks=0, extra='display = "side_by_side"'), repo,
                             maps=SampledMaps())
    _complete(engine, n=1)
    for row in response_rows(repo, engine.record):
        assert row["convergence_split_half"] == {"gradcam": None, "integrated_gradients": 0.87}
        assert row["convergence_evaluations"] == {"gradcam": None, "integrated_gradients": 512}
        assert row["convergence_stopped"] == {"gradcam": None, "integrated_gradients": "budget"}


def test_hostile_answers_are_neutralised_in_the_csv_and_survive(make_study, make_engine_for, repo, tmp_path):
    hostile = "=HYPERLINK(\"http://x\") 👍🏽 עברית \x00 " + "y" * 100
    engine = make_engine_for(make_study("verification", trials=2, checks=0, keep=True), repo)
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": "@evil"})
    step = engine.current_step(token)
    while step.kind != "done":
        answer = answer_for(step)
        if step.kind == "trial":
            answer["comment"] = hostile
        step = engine.submit(token, step.step_id, answer)
    export_study(repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    rows = _read(tmp_path / "r.csv")
    assert [r["comment_main"] for r in rows] == ["'" + hostile] * 2
    (p,) = _read(tmp_path / "p.csv")
    assert p["prolific_pid"] == "'@evil"


def test_export_cli(make_study, make_engine_for, tmp_path, monkeypatch, capsys):
    from study_app.cli import main
    from study_app.store import Repository, make_engine

    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    study = make_study("forward_simulation", trials=2, checks=0)
    db = tmp_path / "studies" / "responses.sqlite"  # the default: next to the study file
    repo = Repository(make_engine(f"sqlite:///{db}"))
    engine = make_engine_for(study, repo)
    for i in range(2):
        run_participant(engine, random.Random(i))
    repo.dispose()
    out = tmp_path / "results" / "responses.csv"
    assert main(["export", "--study", study.source, "--out", str(out)]) == 0
    assert "wrote 12 trial rows" in capsys.readouterr().out
    rows = _read(out)
    assert len(rows) == 2 * 6
    assert {r["phases"] for r in rows} == {"learn", "predict"}
    assert len(_read(out.with_name("participants.csv"))) == 2
    (audit,) = _read(out.with_name("audit_log.csv"))  # the researcher audit log, this export included
    assert (audit["action"], audit["outcome"], audit["study_id"]) == ("export", "ok", study.id)
    assert audit["actor"].startswith("cli") and '"responses": 12' in audit["detail"]
    # a --db without the file, or without this study, is a clear error, not an empty CSV
    other = f"sqlite:///{tmp_path / 'x.db'}"
    assert main(["export", "--study", study.source, "--out", str(out), "--db", other]) == 1
    assert "no database at" in capsys.readouterr().err
    Repository(make_engine(other)).dispose()
    assert main(["export", "--study", study.source, "--out", str(out), "--db", other]) == 1
    assert "has no data" in capsys.readouterr().err
    assert len(_read(out)) == 12  # the earlier export was not clobbered


def test_export_cli_errors_are_named(tmp_path, capsys):
    from study_app.cli import main

    missing = tmp_path / "nope.toml"
    assert main(["export", "--study", str(missing), "--out", str(tmp_path / "r.csv")]) == 1
    assert "nope.toml" in capsys.readouterr().err
    study = tmp_path / "s.toml"
    study.write_text('[study]\nid = "s"\n')
    assert main(["export", "--study", str(study), "--out", str(tmp_path / "r.csv")]) == 1
    assert "no database at" in capsys.readouterr().err


def test_edited_study_is_not_mixed_unless_asked(make_study, make_engine_for, tmp_path, monkeypatch, capsys):
    from study_app.cli import main
    from study_app.store import Repository, make_engine

    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    study = make_study("verification", trials=2, checks=0)
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    repo = Repository(make_engine(url))
    run_participant(make_engine_for(study, repo))
    repo.dispose()
    path = study.source
    with open(path, "a", encoding="utf-8") as fh:
        fh.write("\n# edited after launch\n")
    out = tmp_path / "r.csv"
    assert main(["export", "--study", path, "--out", str(out), "--db", url]) == 1
    assert "--all-versions" in capsys.readouterr().err
    assert main(["export", "--study", path, "--out", str(out), "--db", url, "--all-versions"]) == 0
    assert len(_read(out)) == 2


@pytest.mark.postgres
def test_export_cli_from_postgresql(make_study, make_engine_for, pg_repo, tmp_path, monkeypatch):
    from study_app.cli import main

    study = make_study("distinction", trials=3, checks=0)
    engine = make_engine_for(study, pg_repo)
    for i in range(3):
        run_participant(engine, random.Random(i))
    url = pg_repo.engine.url.render_as_string(hide_password=False)
    monkeypatch.setenv("XAI_STUDY_DB_URL", url)  # the environment is enough, no --db needed
    out = tmp_path / "r.csv"
    assert main(["export", "--study", study.source, "--out", str(out)]) == 0
    rows = _read(out)
    assert len(rows) == 9 and {r["protocol"] for r in rows} == {"distinction"}
    assert len(_read(tmp_path / "participants.csv")) == 3
