"""LIME and Kernel SHAP on paired coalitions: the samplers, the fits (Captum's estimand), stopping, convergence,
and the scores on common coalitions."""

from __future__ import annotations

import itertools
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from captum.attr import Lime

from study_app.explain import superpixel_scores
from study_app.explain.coalitions import SHARED, KernelShapSampler, LimeSampler, shapley_size_mass
from study_app.explain.faithfulness import faithfulness_report
from study_app.explain.methods import get_method
from study_app.explain.model_variants import fast_forward
from study_app.explain.sanity import randomized_copy, rank_correlation
from study_app.explain.segmentation import superpixels
from study_app.explain.surrogates import estimate, fit_lime, lime_weights
from trainers.checkpoint import load_checkpoint
from trainers.images import open_rgb
from trainers.models import IMAGENET_MEAN, IMAGENET_STD
from trainers.predict import eval_transform

ROOT = Path(__file__).resolve().parents[2]


def test_paired_rows_are_complements_in_one_group():
    for sampler in (LimeSampler(9, np.random.default_rng(0)), KernelShapSampler(9, 40, np.random.default_rng(0))):
        rows = sampler.draw(20)
        assert len(rows) == 20
        assert (rows.z[0::2] + rows.z[1::2] == 1).all(), "each draw is followed by its complement"
        assert list(rows.group[:6]) == [0, 0, 1, 1, 2, 2], "a draw and its complement share a group"
    plain = LimeSampler(9, np.random.default_rng(0), paired=False).draw(20)
    assert not (plain.z[0::2] + plain.z[1::2] == 1).all()


def test_kernel_shap_enumerates_the_sizes_the_budget_affords():
    m = 10
    mass = shapley_size_mass(m)
    # sizes 1 and 9 (20 coalitions) carry mass[0] + mass[8]; a budget of 100 affords them, not sizes 2 and 8 (90)
    sampler = KernelShapSampler(m, 100, np.random.default_rng(0))
    assert sampler.enumerated == [1, 9]
    start = sampler.start()
    assert len(start) == 2 + 20 and (start.group == SHARED).all()
    assert start.exact_weight[2:].sum() == pytest.approx(mass[0] + mass[8])
    assert sampler.sampled_mass == pytest.approx(1 - mass[0] - mass[8])
    assert set(sampler.draw(200).z.sum(axis=1)) <= set(range(2, 9)), "enumerated sizes are not sampled again"
    assert KernelShapSampler(m, 2**m, np.random.default_rng(0)).exhaustive
    assert KernelShapSampler(m, 100, np.random.default_rng(0), paired=False).enumerated == []


def _toy(segments: torch.Tensor):
    """A model with interactions between four regions: logit0 = s0·s1 + s2²/10 + s3 (s_j: region j's sum)."""

    def forward(batch: torch.Tensor) -> torch.Tensor:
        s = torch.stack([batch[:, :, segments == j].sum((1, 2)) for j in range(4)], 1)
        v = s[:, 0] * s[:, 1] + s[:, 2] ** 2 / 10 + s[:, 3]
        return torch.stack([v, -v], 1)

    return forward


def test_exhaustive_kernel_shap_gives_the_exact_shapley_values():
    seg = (torch.arange(8)[:, None] // 4 * 2 + torch.arange(8)[None, :] // 4).long()
    x = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(0)) + 0.5
    forward = _toy(seg)

    def value(coalition) -> float:
        keep = torch.zeros(4)
        keep[list(coalition)] = 1
        return float(forward(x * keep[seg])[0, 0])

    exact = np.zeros(4)
    for i in range(4):
        others = [j for j in range(4) if j != i]
        for k in range(4):
            for s in itertools.combinations(others, k):
                weight = math.factorial(k) * math.factorial(3 - k) / math.factorial(4)
                exact[i] += weight * (value((*s, i)) - value(s))
    result = estimate("kernel_shap", forward, x, seg, 0, n_samples=64, min_samples=16, round_size=16,
                      converge_at=0, seed=0, batch_size=4)
    assert result.stopped == "exhaustive" and result.n_evaluations == 16
    np.testing.assert_allclose(result.values, exact, rtol=1e-6)
    assert result.values.sum() == pytest.approx(value(range(4)) - value(()))


def test_the_lime_fit_is_captums_on_the_same_coalitions(resnet, batch):
    x, target = batch[:1], 1
    seg = superpixels(x[0], IMAGENET_MEAN, IMAGENET_STD, 10)
    m = int(seg.max()) + 1
    rows = LimeSampler(m, np.random.default_rng(3)).draw(40).z
    forward = fast_forward(resnet)
    y = np.array([float(forward(x * torch.from_numpy(r).float()[seg])[0, target]) for r in rows])
    energies = np.bincount(seg.numpy().ravel(), weights=(x[0].double() ** 2).sum(0).numpy().ravel(), minlength=m)
    ours = fit_lime(rows, y, lime_weights(rows, energies))

    def replay(original_inp, **kwargs):
        for r in rows:
            yield torch.from_numpy(r).long().view(1, -1)

    captum = Lime(forward, perturb_func=replay).attribute(
        x, target=target, feature_mask=seg.view(1, 1, *seg.shape), n_samples=len(rows), return_input_shape=False)
    np.testing.assert_allclose(ours, captum[0].numpy(), rtol=1e-3, atol=1e-5)


@pytest.mark.parametrize("kind", ["lime", "kernel_shap"])
def test_sampling_stops_once_converged_and_records_why(kind, resnet, batch):
    x = batch[:1]
    seg = superpixels(x[0], IMAGENET_MEAN, IMAGENET_STD, 30)
    assert 2 ** (int(seg.max()) + 1) > 400, "enough superpixels that Kernel SHAP must sample"
    forward = fast_forward(resnet)
    loose = estimate(kind, forward, x, seg, 1, n_samples=400, min_samples=64, round_size=32, converge_at=0.01,
                     seed=0, batch_size=16)
    assert loose.stopped == "converged" and loose.n_evaluations <= 96 and loose.split_half >= 0.01
    fixed = estimate(kind, forward, x, seg, 1, n_samples=160, min_samples=64, round_size=32, converge_at=0,
                     seed=0, batch_size=16)
    assert fixed.stopped == "budget" and fixed.n_evaluations >= 158
    assert [n for n, _ in fixed.history] == sorted(n for n, _ in fixed.history)
    meta = get_method(kind, n_samples=96, min_samples=64, round_size=32, n_segments=10).explain(resnet, x, 1).meta
    assert set(meta["convergence"]) == {"n_evaluations", "split_half_spearman", "stopped", "enumerated_sizes"}
    assert meta["convergence"]["n_evaluations"] >= 64


def test_converge_at_must_be_a_level_below_one():
    with pytest.raises(ValueError, match="converge_at must be in"):
        get_method("lime", converge_at=1.0)


@pytest.fixture(scope="module")
def catdog():
    checkpoint = load_checkpoint(ROOT / "checkpoints" / "catdog_resnet18", "cpu")
    photo = sorted((ROOT / "demo" / "stimuli" / "pets").rglob("*.jpg"))[0]
    x = eval_transform(64, checkpoint.mean, checkpoint.std)(open_rgb(photo)).unsqueeze(0)
    return checkpoint, x


def test_paired_kernel_shap_is_closer_to_a_high_sample_reference_than_plain(catdog):
    """The point of the new sampler, on the real cat/dog model: at 400 evaluations paired sampling with exact
    small coalitions agrees far better with a 3,000-sample reference than plain sampling does."""
    checkpoint, x = catdog
    forward = fast_forward(checkpoint.model)
    seg = superpixels(x[0], checkpoint.mean, checkpoint.std, 50)
    target = int(forward(x).argmax())
    common = dict(min_samples=400, round_size=400, converge_at=0, batch_size=32)
    ref = estimate("kernel_shap", forward, x, seg, target, n_samples=3000, seed=99, **common).values[seg.numpy()]
    rho = {paired: np.mean([rank_correlation(estimate("kernel_shap", forward, x, seg, target, n_samples=400, seed=s,
                                                      paired=paired, **common).values[seg.numpy()], ref)
                            for s in range(3)]) for paired in (True, False)}
    assert rho[True] > rho[False] + 0.1, rho


def test_matched_segments_undo_a_relabelling():
    reference = np.repeat(np.arange(6), 4).reshape(4, 6)
    permuted = np.array([3, 5, 0, 1, 4, 2])[reference]
    assert (superpixel_scores.matched_segments(reference, permuted) == reference).all()


def test_the_shared_trunk_gives_both_models_outputs(resnet, batch):
    random_model = randomized_copy(resnet)
    both = superpixel_scores.SharedTrunk(resnet, random_model)(batch)
    np.testing.assert_allclose(both[:, :3].numpy(), fast_forward(resnet)(batch).numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(both[:, 3:].numpy(), fast_forward(random_model)(batch).numpy(), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kind", ["lime", "kernel_shap"])
def test_scores_on_common_coalitions(kind, resnet, batch):
    x = batch[:1]
    method = get_method(kind, n_segments=10, n_samples=64, min_samples=64)
    seg = superpixels(x[0], IMAGENET_MEAN, IMAGENET_STD, 10)
    norm = (IMAGENET_MEAN, IMAGENET_STD)
    still = superpixel_scores.sensitivity(kind, resnet, x, seg, 1, norm, method.params, radius=0.0, rows=64)
    assert still == 0.0, "the same input on the same coalitions gives the same map"
    moved = superpixel_scores.sensitivity(kind, resnet, x, seg, 1, norm, method.params, radius=0.05, rows=64)
    assert 0 < moved < 10
    rho = superpixel_scores.randomization(kind, resnet, x, seg, 1, rows=64)
    assert -1 <= rho <= 1
    map_hw = method.explain(resnet, x, 1, normalization=norm).map_hw
    report = faithfulness_report(method, resnet, x, 1, map_hw, normalization=norm, sensitivity_samples=4)
    expected = superpixel_scores.sensitivity(kind, resnet, x, seg, 1, norm, method.params)
    assert report["sensitivity_max"] == pytest.approx(expected)
    assert report["randomization_spearman"] == pytest.approx(superpixel_scores.randomization(kind, resnet, x, seg, 1))
