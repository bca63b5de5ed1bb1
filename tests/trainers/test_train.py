import argparse
import json

import pytest

from study_app.cli import main as cli_main
from tests.trainers.conftest import write_class_folders
from trainers import ablation, train
from trainers.checkpoint import load_checkpoint, read_card
from trainers.evaluate import evaluate_checkpoint


def _train_args(data, out, **over):
    argv = ["--data", str(data), "--out", str(out), "--input-size", "32", "--epochs", "4", "--batch-size", "16",
            "--lr", "3e-3", "--augment", "light", "--workers", "0", "--no-progress", "--seed", "0"]
    args = train.get_args_parser().parse_args(argv)
    for k, v in over.items():
        setattr(args, k, v)
    return args


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("easy")
    write_class_folders(root / "train", n=40, seed=1)
    write_class_folders(root / "test", n=12, seed=2)
    out = root / "ck"
    result = train.main(_train_args(root, out))
    return root, out, result


def test_short_training_lowers_loss_and_beats_chance(trained):
    _, out, result = trained
    card = read_card(out)
    history = card["history"]
    assert len(history) == 4
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    assert result["test_accuracy"] >= 0.75  # chance is 0.5 on this two-class task
    assert card["metrics"]["test"]["n"] == 24
    assert card["dataset"]["train"]["n"] + card["dataset"]["val"]["n"] == 80
    assert len(card["dataset"]["train"]["sha256"]) == 64
    assert card["train_args"]["optimizer"] == "adamw" and card["train_args"]["device"] == "cpu"
    assert card["train_args"]["channels_last"] is True  # auto: faster on a CPU too (benchmarks/train_throughput.py)
    assert (out / "report" / "confusion_matrix.png").stat().st_size > 1000
    assert (out / "report" / "training_curves.png").stat().st_size > 1000


def test_best_checkpoint_is_the_best_validation_epoch(trained):
    _, out, _ = trained
    card = read_card(out)
    best = max(h["val_acc"] for h in card["history"])
    assert card["metrics"]["best_val_acc"] == pytest.approx(best)
    assert card["history"][card["metrics"]["best_epoch"] - 1]["val_acc"] == pytest.approx(best)
    tied = [h for h in card["history"] if h["val_acc"] == best]
    assert card["metrics"]["best_epoch"] == min(tied, key=lambda h: h["val_loss"])["epoch"]


@pytest.mark.parametrize("acc,loss,better", [
    (0.91, 9.0, True),    # more right answers win whatever the loss
    (0.89, 0.1, False),   # fewer lose whatever the loss
    (0.90, 0.5, True),    # a tie goes to the lower loss (later epochs of a weight average tie often)
    (0.90, 0.6, False),   # an exact repeat is not better
    (0.90, 0.7, False),
])
def test_an_epoch_beats_the_best_by_accuracy_then_by_loss(acc, loss, better):
    assert train.better_epoch(acc, loss, best_acc=0.90, best_loss=0.6) is better


def test_resume_continues_where_training_stopped(tmp_path):
    write_class_folders(tmp_path / "d", n=16, seed=3)
    out = tmp_path / "ck"
    train.main(_train_args(tmp_path / "d", out, epochs=2))
    assert len(read_card(out)["history"]) == 2
    train.main(_train_args(tmp_path / "d", out, epochs=3, resume=True))
    history = read_card(out)["history"]
    assert [h["epoch"] for h in history] == [1, 2, 3]


def test_early_stopping_stops_before_the_last_epoch(tmp_path):
    write_class_folders(tmp_path / "d", n=10, seed=4)
    # lr 0: the weights never change (only BatchNorm statistics drift), so validation accuracy soon stalls
    result = train.main(_train_args(tmp_path / "d", tmp_path / "ck", epochs=8, lr=0.0, patience=1))
    assert result["epochs_run"] < 8
    accs = [h["val_acc"] for h in read_card(tmp_path / "ck")["history"]]
    last_gain = accs.index(max(accs)) + 1
    assert last_gain == result["epochs_run"] - 1  # stopped one epoch (the patience) after the last accuracy gain


def test_evaluate_cli_prints_one_json_object(trained, capsys):
    root, out, _ = trained
    assert cli_main(["evaluate", "--checkpoint", str(out), "--data", str(root), "--json", "--no-plots"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"accuracy", "n", "per_class", "confusion_matrix"} <= set(report)
    assert report["n"] == 24
    assert sum(map(sum, report["confusion_matrix"])) == 24
    assert set(report["per_class"]) == {"cat", "dog"}
    assert 0 <= report["per_class"]["cat"]["f1"] <= 1


def test_evaluate_on_a_folder_with_a_foreign_class_is_a_clear_error(trained, tmp_path, capsys):
    _, out, _ = trained
    write_class_folders(tmp_path / "other", classes=("cat", "bird"), n=2)
    assert cli_main(["evaluate", "--checkpoint", str(out), "--data", str(tmp_path / "other")]) == 2
    assert "bird" in capsys.readouterr().err


def test_evaluate_matches_the_loaded_model(trained):
    root, out, _ = trained
    report = evaluate_checkpoint(out, root, write_report=False)
    ck = load_checkpoint(out)
    assert report["checkpoint_sha256"] == ck.sha256
    assert report["accuracy"] == pytest.approx(read_card(out)["metrics"]["test"]["accuracy"])


def test_train_cli_reports_bad_layout_without_a_traceback(tmp_path, capsys):
    write_class_folders(tmp_path / "one", classes=("cat",), n=2)
    assert cli_main(["train", "--data", str(tmp_path / "one"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "at least two classes" in err and "Traceback" not in err


def test_ablation_trains_three_variants_with_the_same_recipe(tmp_path, capsys):
    write_class_folders(tmp_path / "c" / "train", classes=("cat", "dog", "bird"), n=12, seed=5)
    write_class_folders(tmp_path / "c" / "test", classes=("cat", "dog", "bird"), n=4, seed=6)
    args = ablation.add_arguments(argparse.ArgumentParser()).parse_args(
        ["--data", str(tmp_path / "c"), "--out", str(tmp_path / "ab"), "--epochs", "2", "--batch-size", "16",
         "--widths", "8", "16", "16", "--no-progress"])
    assert ablation.run(args) == 0
    out = capsys.readouterr().out
    for block in ("plain", "residual", "skip"):
        assert block in out
    results = json.loads((tmp_path / "ab" / "ablation.json").read_text())
    assert [r["block"] for r in results] == ["plain", "residual", "skip"]
    params = {r["block"]: r["params"] for r in results}
    assert params["residual"] > params["plain"]  # projection shortcuts add parameters
    assert all(len(r["history"]) == 2 for r in results)
    assert (tmp_path / "ab" / "ablation_curves.png").is_file()


def test_ablation_without_cifar_offline_says_where_to_put_it(tmp_path, capsys):
    args = ablation.add_arguments(argparse.ArgumentParser()).parse_args(
        ["--data", str(tmp_path / "cifar"), "--download", "--no-progress"])
    rc = ablation.run(args)
    if rc == 2:  # offline (this machine): the message says what to download and where
        assert "cifar-10-batches-py" in capsys.readouterr().err


def test_cutmix_mixup_and_class_weighting_train(tmp_path):
    write_class_folders(tmp_path / "d", classes=("cat", "dog", "bird"), n=8, seed=7)
    out = tmp_path / "ck"
    result = train.main(_train_args(tmp_path / "d", out, epochs=2, mix=1.0, class_weighting="balanced",
                                    label_smoothing=0.1, optimizer="sgd"))
    history = read_card(out)["history"]
    assert len(history) == 2 and all(h["train_loss"] == h["train_loss"] for h in history)  # finite, not NaN
    assert read_card(out)["train_args"]["mix"] == 1.0
    assert result["best_epoch"] in (1, 2)


def test_ema_weights_are_what_gets_validated_and_saved(tmp_path):
    import torch

    write_class_folders(tmp_path / "d", n=30, seed=8)  # several steps: the first EMA update only copies
    out = tmp_path / "ck"
    result = train.main(_train_args(tmp_path / "d", out, epochs=1, ema=0.9))
    assert result["best_epoch"] == 1
    state = torch.load(out / "train_state.pt", weights_only=True)
    saved = torch.load(out / "model.pt", weights_only=True)
    w = "fc.weight"
    assert torch.equal(saved[w], state["ema"][w])
    assert not torch.equal(saved[w], state["model"][w])  # the average lags the raw weights


def test_the_same_script_trains_under_torchrun_with_two_processes(tmp_path):
    """DistributedDataParallel on CPU (gloo): two ranks, one checkpoint written by rank 0."""
    import socket
    import subprocess
    import sys
    from pathlib import Path

    write_class_folders(tmp_path / "d" / "train", n=16, seed=9)
    write_class_folders(tmp_path / "d" / "test", n=4, seed=10)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torchrun = Path(sys.executable).with_name("torchrun")
    out = tmp_path / "ck"
    proc = subprocess.run(
        [str(torchrun), "--nproc_per_node=2", f"--master_port={port}", "-m", "trainers.train", "--data",
         str(tmp_path / "d"), "--out", str(out), "--input-size", "32", "--epochs", "2", "--batch-size", "8",
         "--workers", "0", "--no-progress"],
        capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    card = read_card(out)
    assert card["train_args"]["world_size"] == 2
    assert [h["epoch"] for h in card["history"]] == [1, 2]
    assert card["metrics"]["test"]["n"] == 8
    load_checkpoint(out)  # rank 0 wrote a complete, loadable checkpoint


def test_init_from_starts_where_the_given_checkpoint_is(trained, tmp_path):
    root, source, _ = trained
    # lr 0: weights stay where they started, so the new run's accuracy equals the source's from epoch one
    result = train.main(_train_args(root, tmp_path / "ft", epochs=2, lr=0.0, init_from=source, ema=0.0))
    assert result["test_accuracy"] >= 0.75
    card = read_card(tmp_path / "ft")
    assert str(source) in card["notes"] and "from scratch" not in card["notes"]
    assert card["train_args"]["init_from"] == str(source)


def test_init_from_a_checkpoint_of_other_classes_is_refused(trained, tmp_path, capsys):
    _, source, _ = trained
    write_class_folders(tmp_path / "birds", classes=("cat", "bird"), n=4)
    argv = ["train", "--data", str(tmp_path / "birds"), "--out", str(tmp_path / "o"), "--input-size", "32",
            "--epochs", "1", "--workers", "0", "--no-progress", "--init-from", str(source)]
    assert cli_main(argv) == 2
    err = capsys.readouterr().err
    assert "differ" in err and "bird" in err and "Traceback" not in err


@pytest.mark.parametrize("images_per_class,epochs", [(10, 2), (5, 1)])
def test_a_tiny_folder_trains_instead_of_crashing_in_the_schedule(tmp_path, images_per_class, epochs):
    """16 training images in batches of 8 for 2 epochs are 4 optimiser steps: torch's one-cycle warm-up then
    had zero length and training died with a ZeroDivisionError traceback (one step: the same)."""
    write_class_folders(tmp_path / "d", n=images_per_class, seed=5)
    result = train.main(_train_args(tmp_path / "d", tmp_path / "ck", epochs=epochs, batch_size=8))
    assert result["epochs_run"] == epochs
    assert len(read_card(tmp_path / "ck")["history"]) == epochs


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 100])
def test_one_cycle_runs_every_step_of_a_short_schedule(total):
    import torch

    from trainers.runtime import one_cycle

    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    sched = one_cycle(opt, 0.1, total)
    lrs = []
    for _ in range(total):
        opt.step()
        sched.step()
        lrs.append(sched.get_last_lr()[0])
    assert all(lr == lr and lr >= 0 for lr in lrs)  # no NaN, no negative rate
    if total >= 7:
        assert max(lrs) == pytest.approx(0.1, rel=0.2) and lrs[-1] < 0.01  # it still warms up and anneals
