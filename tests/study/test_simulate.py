"""``xai-study simulate``: synthetic participants walk the real engine into the real database; planted effects come
back out of the export, the reliance measures and the generated analysis; synthetic rows stay out of every default
export and out of the real participants' balance; the stored response times are the simulated ones.

Tolerances are statistical: an observed share must lie within 4 binomial standard errors of what the behaviour
model plants (the plans' trial draws are random per participant, so the counts vary from run to run)."""

from __future__ import annotations

import datetime as dt
import math
import random
import subprocess
import sys
from dataclasses import replace

import pandas as pd
import pytest

from study.kit import FakeClock, predictions_for, run_participant, write_study
from study_app.analysis.progress import split_pilots
from study_app.analysis.scripts import write_scripts
from study_app.cli import main as cli_main
from study_app.export.export_cli import export_from_file
from study_app.export.reliance_report import arm_reliance
from study_app.simulate.behaviour import Behaviour, BehaviourError, read_behaviour
from study_app.simulate.simulate_cli import run_simulation
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, load_study

DECISION = 'arms = ["human", "ai", "gradcam"]\nai_wrong_share = 0.5\n'
PLANT = Behaviour(accuracy_by_arm={"human": 0.5, "ai": 0.4, "gradcam": 0.95}, follow_when_right=0.9,
                  follow_when_wrong=0.2, attention_failure=0.0, dropout=0.0, straight_liners=0.0, seed=11)
N = 60


def near(observed: float, planted: float, n: int, sds: float = 4.0) -> bool:
    return n > 0 and abs(observed - planted) <= sds * math.sqrt(planted * (1 - planted) / n) + 1e-9


@pytest.fixture(scope="module")
def decision(tmp_path_factory, checkpoint_dir, stimuli_dir):
    folder = tmp_path_factory.mktemp("simulate")
    path = write_study(folder, "decision", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=8, checks=1,
                       extra=DECISION)
    url = f"sqlite:///{folder / 'responses.sqlite'}"
    summary = run_simulation(path, N, PLANT, db=url, progress=lambda _: None)
    result = export_from_file(path, folder / "out" / "responses.csv", db_url=url, include_synthetic=True)
    rows = pd.read_csv(result.responses_path)
    return path, url, summary, result, rows[~rows["is_attention_check"]].copy()


def test_everyone_completes_and_is_stored_synthetic(decision):
    path, url, summary, result, rows = decision
    assert summary["outcome"].completed == N and summary["outcome"].dropped_out == 0
    assert result.responses_path.name == "responses_synthetic.csv"
    assert result.participants_path.name == "participants_synthetic.csv"
    assert rows["synthetic"].all()
    people = pd.read_csv(result.participants_path)
    assert len(people) == N and people["synthetic"].all() and (people["status"] == "completed").all()


def test_planted_accuracy_per_arm_is_recovered(decision):
    rows = decision[4]
    human = rows[rows["arm"] == "human"]
    assert near(human["correct"].mean(), 0.5, len(human))  # no advice: the own judgement is the answer
    for arm in ("ai", "gradcam"):
        part = rows[rows["arm"] == arm]
        initial = (part["answer_initial"] == part["true_label"]).mean()
        assert near(initial, PLANT.accuracy_for(arm), len(part)), (arm, initial)
        acc = PLANT.accuracy_for(arm)  # the final answer: own judgement, switching to the AI where it differs
        right, wrong = part["model_correct"].sum(), (~part["model_correct"]).sum()
        expected = (right * (acc + (1 - acc) * 0.9) + wrong * acc * (1 - 0.2)) / len(part)
        assert near(part["correct"].mean(), expected, len(part)), (arm, part["correct"].mean(), expected)
    summary = decision[2]["accuracy"]
    assert summary["gradcam"][0] / summary["gradcam"][1] > summary["ai"][0] / summary["ai"][1]


def test_reliance_measures_show_the_planted_following(decision):
    table = arm_reliance(decision[4], n_boot=20).set_index(["arm", "measure"])
    for arm in ("ai", "gradcam"):  # RSR: keeping one's right answer against a wrong AI = 1 - follow_when_wrong
        rsr = table.loc[(arm, "rsr")]
        assert near(rsr["pooled"], 1 - 0.2, int(rsr["trials"])), (arm, rsr["pooled"], rsr["trials"])
    rair = table.loc[("ai", "rair")]  # switching to a right AI from a wrong own answer = follow_when_right
    assert near(rair["pooled"], 0.9, int(rair["trials"])), rair


def test_generated_python_analysis_finds_the_arm_effect(decision, tmp_path):
    path, result = decision[0], decision[3]
    write_scripts(path, tmp_path)
    done = subprocess.run([sys.executable, "analysis.py", str(result.responses_path), "res"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-2000:]
    status = pd.read_csv(tmp_path / "res" / "model_status.csv", index_col="model")
    assert status.loc["accuracy", "status"] in ("ok", "singular"), status.loc["accuracy", "message"]
    fit = pd.read_csv(tmp_path / "res" / "pets_accuracy_glmm.csv", index_col="term")["estimate"]
    # reference arm human, at a wrong AI: gradcam (0.95 own accuracy) above human (0.5) above ai (0.4)
    assert fit["armgradcam"] > 0 and fit["armgradcam"] > fit["armai"], fit


def test_a_default_export_holds_no_synthetic_row(decision, tmp_path):
    path, url = decision[0], decision[1]
    plain = export_from_file(path, tmp_path / "responses.csv", db_url=url)
    assert plain.responses == 0 and plain.participants == 0
    assert plain.responses_path.name == "responses.csv"
    assert "synthetic" not in pd.read_csv(plain.participants_path).columns


def test_synthetic_participants_are_balanced_apart_from_real_ones(repo, make_study, clock):
    study = make_study("verification", design="between", control=True, trials=2, checks=0)
    engine = StudyEngine(study, repo, predictions=predictions_for(study), clock=clock)
    since = clock() - dt.timedelta(hours=1)
    for i in range(6):
        token = engine.start_or_resume(None)
        engine.submit(token, "consent", {"agree": True}, synthetic=True)
    assert repo.condition_counts(engine.record.id, since) == {}  # like pilots: no weight in the real balance
    assert repo.condition_counts(engine.record.id, since, synthetic=True) == {0: 2, 1: 2, 2: 2}
    run_participant(engine, random.Random(1), clock=clock)
    people = repo.participants(engine.record.id)
    real = [p for p in people if not p.synthetic]
    assert len(real) == 1 and real[0].condition == 0  # the first real participant starts the real balance
    assert split_pilots(people) == (real, [])  # the Progress page counts no synthetic participant


def test_stored_response_times_are_the_simulated_ones(tmp_path, checkpoint_dir, stimuli_dir):
    path = write_study(tmp_path, "forward_simulation", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=4)
    url = f"sqlite:///{tmp_path / 'r.sqlite'}"
    run_simulation(path, 3, replace(PLANT, rt_mean=5.0, rt_sd=0.0, dropout=0.0), db=url, progress=lambda _: None)
    result = export_from_file(path, tmp_path / "out.csv", db_url=url, include_synthetic=True)
    times = pd.read_csv(result.responses_path)["response_time_ms"]
    assert len(times) > 0 and (times == 5000).all()


def test_dropouts_stop_early(tmp_path, checkpoint_dir, stimuli_dir):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=4)
    summary = run_simulation(path, 8, replace(PLANT, dropout=1.0), db=f"sqlite:///{tmp_path / 'r.sqlite'}",
                             progress=lambda _: None)
    assert summary["outcome"].dropped_out == 8 and summary["outcome"].completed == 0


def test_the_command_prints_a_summary_and_refuses_a_database_with_real_participants(tmp_path, checkpoint_dir,
                                                                                    stimuli_dir, capsys):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=2,
                       checks=1, control=True)
    db = f"sqlite:///{tmp_path / 'r.sqlite'}"
    assert cli_main(["simulate", "--study", str(path), "--participants", "4", "--db", db, "--dropout", "0",
                     "--arm-accuracy", "none=0.6"]) == 0
    out = capsys.readouterr().out
    assert "4 synthetic participants enrolled: 4 completed" in out and "accuracy in arm none" in out
    assert str(tmp_path / "r.sqlite") in out
    repo = Repository(make_engine(db))
    engine = StudyEngine(load_study(path), repo, clock=FakeClock())
    run_participant(engine, random.Random(2))
    repo.dispose()
    assert cli_main(["simulate", "--study", str(path), "--participants", "2", "--db", db]) == 1
    err = capsys.readouterr().err
    assert "holds 1 real participant" in err and "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_bad_behaviour_file_is_one_clear_error(tmp_path):
    bad = tmp_path / "b.toml"
    bad.write_text("accuracy = 1.5\n", encoding="utf-8")
    with pytest.raises(BehaviourError, match="accuracy must be a probability"):
        read_behaviour(bad)
    bad.write_text("acuracy = 0.5\n", encoding="utf-8")
    with pytest.raises(BehaviourError, match="unknown key"):
        read_behaviour(bad)
    good = tmp_path / "g.toml"
    good.write_text("accuracy = 0.7\nresponse_time = { mean = 6.0, sd = 2.0 }\n[accuracy_by_arm]\ngradcam = 0.9\n",
                    encoding="utf-8")
    b = read_behaviour(good)
    assert (b.accuracy, b.rt_mean, b.accuracy_for("gradcam"), b.accuracy_for("none")) == (0.7, 6.0, 0.9, 0.7)


def test_the_export_command_writes_synthetic_rows_only_into_files_named_so(decision, tmp_path, capsys):
    path, url = decision[0], decision[1]
    base = ["export", "--study", str(path), "--db", url, "--out", str(tmp_path / "responses.csv")]
    assert cli_main(base) == 0
    assert len(pd.read_csv(tmp_path / "responses.csv")) == 0 and not (tmp_path / "reliance.csv").exists()
    assert f"left out {N} synthetic participants" in capsys.readouterr().out
    assert cli_main([*base, "--include-synthetic"]) == 0
    capsys.readouterr()
    synthetic = pd.read_csv(tmp_path / "responses_synthetic.csv")
    assert len(synthetic) > 0 and synthetic["synthetic"].all()
    assert len(pd.read_csv(tmp_path / "participants_synthetic.csv")) == N
    assert (tmp_path / "reliance_synthetic.csv").exists()
    assert len(pd.read_csv(tmp_path / "responses.csv")) == 0  # the real export's file is untouched
