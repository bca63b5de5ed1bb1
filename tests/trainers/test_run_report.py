"""``xai-study train`` says what it found before training and what it wrote after."""

from __future__ import annotations

import re

from study_app.cli import main as cli_main
from tests.trainers.conftest import write_class_folders


def test_train_prints_what_it_found_and_what_it_wrote(tmp_path, capsys):
    write_class_folders(tmp_path / "data" / "train", n=40, seed=1)
    write_class_folders(tmp_path / "data" / "test", n=4, seed=2)
    out = tmp_path / "ck"
    argv = ["train", "--data", str(tmp_path / "data"), "--out", str(out), "--input-size", "32", "--epochs", "3",
            "--batch-size", "16", "--workers", "0", "--no-progress", "--pretrained", "none"]
    assert cli_main(argv) == 0
    err = capsys.readouterr().err
    first = err.splitlines()[0]
    assert first.startswith(f"data: {tmp_path / 'data'} as splits/") and "2 classes" in first, err
    assert re.search(r"train \d+, val \d+, test 8 images \(validation drawn from the training images\)", first)
    assert re.search(r"^  cat +train +\d+  val +\d+  test +4$", err, re.M), err
    assert re.search(r"training resnet\w* at 32px for up to 3 epochs on cpu, \d+ CPU threads", err), err
    last = err.strip().splitlines()[-1]
    assert re.fullmatch(rf"checkpoint written to {re.escape(str(out))} \(model\.pt \+ card\.json\): epoch [123] of 3 "
                        r"run, validation accuracy \d+\.\d%, test accuracy \d+\.\d%", last), last
    assert (out / "model.pt").is_file()
