"""Long commands say how long they will take before they start, and write their files under ``runs/``."""

from __future__ import annotations

import re

import pytest

from study_app.cli import main
from study_app.explain.estimate import CostModel, duration, faithfulness_cost, sampled_score_evaluations
from study_app.explain.superpixel_scores import SCORE_ROWS

CHEAP_FAITH = ["--steps", "4", "--infidelity-samples", "2", "--sensitivity-samples", "1"]


def test_a_faithfulness_score_costs_its_extra_maps_and_forward_passes():
    options = {"steps": 20, "infidelity_samples": 16, "sensitivity_samples": 4, "sanity": True}
    assert faithfulness_cost(options) == (5, 58)  # 4 sensitivity re-runs + the randomised model; 2 curves of 21 + 16
    model = CostModel({"lime": 10.0, "gradcam": 0.5}, forward_seconds=0.1)
    assert model.seconds({"lime": 2, "gradcam": 4}) == pytest.approx(22.0)
    scores = model.seconds({}, {"lime": 1, "gradcam": 2}, options)
    assert scores == pytest.approx((5 * 10 + 5.8) + 2 * (5 * 0.5 + 5.8))
    assert "lime 10.0 s" in model.basis(options) and "58 forward passes of 100 ms" in model.basis(options)
    assert duration(30) == "under a minute" and duration(600) == "about 10 min" and duration(7200) == "about 2.0 h"


def test_lime_and_kernel_shap_scores_cost_their_common_coalitions_not_extra_maps():
    """Their max-sensitivity and randomisation check fit on SCORE_ROWS coalitions: the estimate counts those
    evaluations at the timed map's cost per evaluation, not five more maps."""
    options = {"steps": 20, "infidelity_samples": 16, "sensitivity_samples": 4, "sanity": True}
    assert sampled_score_evaluations(options) == SCORE_ROWS * 5 + SCORE_ROWS / 4
    assert sampled_score_evaluations({**options, "sanity": False, "sensitivity_samples": 0}) == SCORE_ROWS

    class Timed:  # what the map service returns: the map's convergence record
        convergence = {"n_evaluations": 2000, "split_half_spearman": 0.93}

    model = CostModel(forward_seconds=0.1)
    model.time_map("lime", Timed)
    assert model.map_evaluations == {"lime": 2000} and model.map_seconds["lime"] >= 0
    model.map_seconds["lime"] = 10.0  # 5 ms an evaluation
    assert model.score_seconds("lime", options) == pytest.approx(sampled_score_evaluations(options) * 0.005 + 5.8)
    model.map_seconds["gradcam"] = 0.5
    assert model.score_seconds("gradcam", options) == pytest.approx(5 * 0.5 + 5.8)
    assert "common coalitions" in model.basis(options)


def test_faithfulness_estimates_first_and_writes_under_runs(tmp_path, checkpoint_dir, image_dir, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    argv = ["faithfulness", "--checkpoint", str(checkpoint_dir), "--images", str(image_dir), "--cache",
            str(tmp_path / "cache"), "--methods", "gradcam", "saliency", *CHEAP_FAITH]
    assert main(argv) == 0
    out = capsys.readouterr().out
    first = re.search(r"^6 faithfulness scores missing \(0 already cached\): (under a minute|about \d+ min) "
                      r"\(per-method cost model, one map per method timed here: gradcam [\d.]+ s, saliency", out, re.M)
    assert first, out
    assert out.index(first.group(0)) < out.index("wrote 6 rows")
    assert (tmp_path / "runs" / "faithfulness.csv").is_file()
    assert not (tmp_path / "faithfulness.csv").exists()
    assert main(argv) == 0
    assert "0 faithfulness scores missing (6 already cached)" in capsys.readouterr().out


def test_folder_precompute_estimates_before_it_computes(tmp_path, checkpoint_dir, image_dir, capsys):
    argv = ["precompute", "--checkpoint", str(checkpoint_dir), "--images", str(image_dir), "--cache",
            str(tmp_path), "--methods", "gradcam", "occlusion", "--param", "occlusion.window=16",
            "--param", "occlusion.stride=16", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(r"^6 maps missing \(0 already cached\): .*gradcam [\d.]+ s, occlusion [\d.]+ s", out, re.M), out
    assert out.index("6 maps missing") < out.index("6 computed, 0 already cached, 0 failed")
    assert main(argv) == 0
    assert "0 maps missing (6 already cached): nothing to compute" in capsys.readouterr().out


def test_study_precompute_estimates_before_it_computes(tmp_path, capsys):
    from study.kit import make_checkpoint, make_stimuli, write_study  # noqa: PLC0415 - the study tests' kit

    study_file = write_study(tmp_path / "studies", "verification", checkpoint=make_checkpoint(tmp_path / "ck"),
                             stimuli=make_stimuli(tmp_path / "stimuli"), trials=2, checks=0, keep=True)
    argv = ["precompute", "--study", str(study_file), "--cache", str(tmp_path / "cache"), "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    found = re.search(r"^(\d+) maps missing \(0 already cached\): .*per-method cost model", out, re.M)
    assert found and int(found.group(1)) > 0, out
    assert f"{found.group(1)} computed, 0 already cached" in out
    assert main(argv) == 0
    assert f"0 maps missing ({found.group(1)} already cached): nothing to compute" in capsys.readouterr().out


def test_stored_faithfulness_scores_are_not_estimated_again(tmp_path, capsys):
    """The estimate counted a score for every map, stored or not: a second --faithfulness run over a finished
    cache announced minutes of work and then did none."""
    from study.kit import make_checkpoint, make_stimuli, write_study  # noqa: PLC0415 - the study tests' kit

    study_file = write_study(tmp_path / "studies", "verification", checkpoint=make_checkpoint(tmp_path / "ck"),
                             stimuli=make_stimuli(tmp_path / "stimuli", per_class=2), trials=2, checks=0, keep=True)
    argv = ["precompute", "--study", str(study_file), "--cache", str(tmp_path / "cache"), "--no-progress",
            "--faithfulness"]
    assert main(argv) == 0
    first = capsys.readouterr().out
    found = re.search(r"^(\d+) maps and (\d+) faithfulness scores missing", first, re.M)
    assert found and int(found.group(2)) > 0, first
    assert main(argv) == 0
    assert re.search(r"^0 maps missing \(\d+ already cached\): nothing to compute", capsys.readouterr().out, re.M)
