"""``precompute()`` and the two console commands, run in-process on a tiny checkpoint."""

from __future__ import annotations

import csv
import shutil

import pytest

from study_app.cli import main
from study_app.explain.cache import AttributionCache
from study_app.explain.faithfulness import METRIC_NAMES
from study_app.explain.faithfulness_cli import CSV_COLUMNS
from study_app.explain.precompute import list_images, precompute

CHEAP_LIME = ["--param", "lime.n_samples=16", "--param", "lime.min_samples=16", "--param", "lime.n_segments=8"]
CHEAP = [*CHEAP_LIME, "--param", "kernel_shap.n_samples=16", "--param", "kernel_shap.min_samples=16"]


def test_precompute_fills_the_cache_then_skips_it(tmp_path, checkpoint_dir, image_dir):
    items = [(checkpoint_dir, p) for p in list_images(image_dir)]
    methods = [("gradcam", {}), ("occlusion", {"window": 16, "stride": 16})]
    first = precompute(items, methods, cache_dir=tmp_path, progress=False)
    assert (first.computed, first.cached, first.failed) == (6, 0, [])
    assert len(AttributionCache(tmp_path)) == 6
    second = precompute(items, methods, cache_dir=tmp_path, progress=False)
    assert (second.computed, second.cached) == (0, 6)


def test_precompute_reports_bad_images_and_goes_on(tmp_path, checkpoint_dir, image_dir):
    folder = tmp_path / "imgs"
    shutil.copytree(image_dir, folder)
    (folder / "zz_broken.jpg").write_bytes(b"\xff\xd8 definitely not a jpeg")
    items = [(checkpoint_dir, p) for p in list_images(folder)]
    summary = precompute(items, ["saliency"], cache_dir=tmp_path / "cache", progress=False)
    assert summary.computed == 3
    assert len(summary.failed) == 1 and summary.failed[0][1].endswith("zz_broken.jpg")


def test_precompute_validates_methods_before_starting(tmp_path, checkpoint_dir, image_dir):
    with pytest.raises(ValueError, match="unknown parameter"):
        precompute([(checkpoint_dir, image_dir / "a.png")], [("lime", {"samples": 3})], cache_dir=tmp_path)
    assert not (tmp_path / "00").exists() and len(AttributionCache(tmp_path)) == 0


def test_precompute_command(tmp_path, checkpoint_dir, image_dir, capsys):
    argv = ["precompute", "--checkpoint", str(checkpoint_dir), "--images", str(image_dir), "--cache", str(tmp_path)]
    assert main([*argv, *CHEAP, "--no-progress"]) == 0
    assert "9 computed, 0 already cached, 0 failed" in capsys.readouterr().out
    assert main([*argv, *CHEAP, "--no-progress"]) == 0
    assert "0 computed, 9 already cached" in capsys.readouterr().out


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--methods", "anchors"], "unknown explanation method 'anchors'"),
        (["--param", "lime.n_samples"], "expected METHOD.NAME=VALUE"),
        (["--methods", "gradcam", "--param", "lime.n_samples=3"], "not among --methods"),
        (["--param", "lime.n_samples=lots"], "n_samples must be an integer"),
    ],
)
def test_precompute_command_rejects_bad_arguments(tmp_path, checkpoint_dir, image_dir, capsys, extra, message):
    argv = ["precompute", "--checkpoint", str(checkpoint_dir), "--images", str(image_dir), "--cache", str(tmp_path)]
    assert main([*argv, *extra]) == 2
    assert message in capsys.readouterr().err


def test_precompute_command_explains_a_missing_checkpoint_or_folder(tmp_path, image_dir, checkpoint_dir, capsys):
    assert main(["precompute", "--checkpoint", str(tmp_path / "nope"), "--images", str(image_dir)]) == 2
    assert "not a checkpoint directory" in capsys.readouterr().err
    assert main(["precompute", "--checkpoint", str(checkpoint_dir), "--images", str(tmp_path / "none")]) == 2
    assert "not a folder of images" in capsys.readouterr().err


def test_faithfulness_command_writes_csv_and_summary(tmp_path, checkpoint_dir, image_dir, capsys):
    out = tmp_path / "scores.csv"
    argv = [
        "faithfulness",
        "--checkpoint", str(checkpoint_dir),
        "--images", str(image_dir),
        "--cache", str(tmp_path / "cache"),
        "--methods", "gradcam", "lime",
        "--out", str(out),
        "--limit", "2",
        "--steps", "4",
        "--infidelity-samples", "4",
        "--sensitivity-samples", "1",
        *CHEAP_LIME,
    ]  # fmt: skip
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert "gradcam" in printed and "lime" in printed and "deletion_auc" in printed
    with open(out, newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 4 and tuple(rows[0]) == CSV_COLUMNS
    assert {r["method"] for r in rows} == {"gradcam", "lime"}
    cache = AttributionCache(tmp_path / "cache")
    recorded = {e.record["map_sha256"]: e.record["meta"].get("convergence") for e in map(cache.get, cache.keys())}
    for row in rows:
        for metric in METRIC_NAMES:
            float(row[metric])  # numbers (possibly nan), never empty
        assert 0.0 <= float(row["deletion_auc"]) <= 1.0
        assert row["target_label"] in {"cat", "dog", "fox"}
        if row["method"] == "lime":  # a sampled map says how converged it is (explain.surrogates)
            record = recorded[row["map_sha256"]]
            assert 0 < int(row["n_evaluations"]) == record["n_evaluations"] <= 16
            assert float(row["split_half_spearman"]) == pytest.approx(record["split_half_spearman"])
        else:  # Grad-CAM samples nothing
            assert row["n_evaluations"] == row["split_half_spearman"] == ""
    # The scores were stored with the maps: a second run rewrites nothing and gives the same numbers.
    assert len(AttributionCache(tmp_path / "cache")) == 4
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.npz")}
    assert main(argv) == 0
    assert stamps == {p: p.stat().st_mtime_ns for p in (tmp_path / "cache").rglob("*.npz")}
    with open(out, newline="", encoding="utf-8") as fh:
        assert list(csv.DictReader(fh)) == rows
