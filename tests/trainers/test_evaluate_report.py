"""``xai-study evaluate`` writes its report into a folder of its own, never into the checkpoint."""

from __future__ import annotations

import datetime as dt
import hashlib

from study.kit import make_checkpoint, make_stimuli

from study_app.cli import main as cli_main
from trainers.evaluate import new_report_dir


def snapshot(folder):
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_evaluate_writes_a_new_folder_and_leaves_the_checkpoint_alone(tmp_path, monkeypatch, capsys):
    checkpoint = make_checkpoint(tmp_path / "checkpoints" / "tiny")
    (checkpoint / "report").mkdir(exist_ok=True)
    (checkpoint / "report" / "confusion_matrix.png").write_bytes(b"the training run's report")
    stimuli = make_stimuli(tmp_path / "stimuli", per_class=3)
    before = snapshot(checkpoint)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)

    assert cli_main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(stimuli)]) == 0
    assert cli_main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(stimuli)]) == 0
    out = capsys.readouterr().out
    assert snapshot(checkpoint) == before
    reports = sorted((work / "runs" / "evaluate").iterdir())
    assert len(reports) == 2 and all(r.name.startswith("tiny-") for r in reports)  # one new folder per run
    assert all((r / "confusion_matrix.png").is_file() for r in reports)
    assert f"confusion_matrix: runs/evaluate/{reports[0].name}/confusion_matrix.png" in out

    chosen = tmp_path / "chosen"
    assert cli_main(["evaluate", "--checkpoint", str(checkpoint), "--data", str(stimuli),
                     "--report-dir", str(chosen)]) == 0
    assert (chosen / "confusion_matrix.png").is_file()
    assert snapshot(checkpoint) == before


def test_new_report_dir_never_reuses_a_folder(tmp_path):
    now = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
    first = new_report_dir("checkpoints/mri_resnet18", tmp_path, now)
    assert first == tmp_path / "mri_resnet18-20260102-030405"
    first.mkdir()
    second = new_report_dir("checkpoints/mri_resnet18/", tmp_path, now)
    assert second == tmp_path / "mri_resnet18-20260102-030405-2"
