"""Faithfulness metrics and the randomisation sanity check on models whose true evidence is known."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from study_app.explain.base import ExplanationMethod
from study_app.explain.faithfulness import (
    METRIC_NAMES,
    deletion_insertion,
    faithfulness_report,
    infidelity_score,
    pixel_order,
    sensitivity_score,
)
from study_app.explain.methods import get_method
from study_app.explain.sanity import randomization_check, randomized_copy, rank_correlation

from ._helpers import SIZE


class _QuadrantModel(nn.Module):
    """Class 0's logit counts bright (> 1) detail in the upper-left quadrant; class 1's logit is 0. The
    evidence for class 0 is therefore exactly the upper-left quadrant (and blurring removes it)."""

    def forward(self, x):
        h, w = x.shape[-2:]
        score = 10 * torch.relu(x[:, :, : h // 2, : w // 2] - 1).mean(dim=(1, 2, 3)) - 2
        return torch.stack([score, torch.zeros_like(score)], dim=1)


class _LinearModel(nn.Module):
    """Logit 0 = sum(weight · x): its exact per-pixel attribution is the channel sum of weight · x."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(0)) / 50)

    def forward(self, x):
        score = (x * self.weight).sum(dim=(1, 2, 3))
        return torch.stack([score, -score], dim=1)


@pytest.fixture
def bright() -> torch.Tensor:
    """A fine checkerboard of ±2: bright detail everywhere, which a blur turns into flat grey."""
    yy, xx = torch.meshgrid(torch.arange(SIZE), torch.arange(SIZE), indexing="ij")
    return (((yy + xx) % 2) * 4.0 - 2.0).expand(1, 3, SIZE, SIZE).contiguous()


def _quadrant_maps():
    right = np.zeros((SIZE, SIZE), dtype=np.float32)
    right[: SIZE // 2, : SIZE // 2] = 1.0
    wrong = np.zeros((SIZE, SIZE), dtype=np.float32)
    wrong[SIZE // 2 :, SIZE // 2 :] = 1.0
    return right, wrong


def test_deletion_and_insertion_prefer_the_map_that_points_at_the_evidence(bright):
    model = _QuadrantModel().eval()
    right, wrong = _quadrant_maps()
    good = deletion_insertion(model, bright, right, 0, steps=16)
    bad = deletion_insertion(model, bright, wrong, 0, steps=16)
    assert good["deletion_auc"] < bad["deletion_auc"] - 0.2
    assert good["insertion_auc"] > bad["insertion_auc"] + 0.1
    assert len(good["deletion_curve"]) == 17 and good["fractions"][0] == 0.0 and good["fractions"][-1] == 1.0
    assert good["deletion_curve"][0] == pytest.approx(good["insertion_curve"][-1])  # both = the intact image


def test_pixel_order_puts_strongest_first_and_breaks_ties_by_seed():
    m = np.array([[0.0, 5.0], [0.0, 0.0]])
    order = pixel_order(m)
    assert order[0] == 1
    assert sorted(order) == [0, 1, 2, 3]
    assert list(pixel_order(m, seed=1)) == list(pixel_order(m, seed=1))


def test_infidelity_is_near_zero_for_the_exact_attribution_of_a_linear_model(batch):
    model = _LinearModel().eval()
    x = batch[:1]
    exact = (model.weight * torch.ones_like(x)).sum(dim=1)[0].detach().numpy()  # d score / d pixel, channel-summed
    shuffled = np.random.default_rng(0).permutation(exact.ravel()).reshape(exact.shape)
    good = infidelity_score(model, x, exact, 0)
    bad = infidelity_score(model, x, shuffled, 0)
    assert good < 1e-3 * bad


def test_sensitivity_is_zero_for_a_constant_gradient_and_positive_for_a_resnet(batch, resnet):
    saliency = get_method("saliency")
    assert sensitivity_score(saliency, _LinearModel().eval(), batch[:1], 0, n_perturb_samples=3) == pytest.approx(0.0, abs=1e-6)
    assert sensitivity_score(saliency, resnet, batch[:1], 0, n_perturb_samples=3, radius=0.5) > 0.01


class _InputOnly(ExplanationMethod):
    """An 'explanation' that ignores the model: per-pixel input magnitude (like an edge detector)."""

    name = "input_magnitude"
    signed = False

    def _attribute(self, model, x, targets, normalization, segments):
        return [xi.abs().sum(0).numpy() for xi in x], None


def test_randomisation_check_separates_weight_dependent_from_input_only_maps(resnet, batch):
    x = batch[:1]
    independent = randomization_check(_InputOnly(), resnet, x, 0)
    dependent = randomization_check(get_method("gradcam"), resnet, x, 0)
    assert independent == pytest.approx(1.0)
    assert dependent < 0.5


def test_randomized_copy_changes_only_the_top_layers(resnet):
    clone = randomized_copy(resnet, seed=1)
    assert not torch.equal(clone.fc.weight, resnet.fc.weight)
    assert not torch.equal(clone.layer4[0].conv1.weight, resnet.layer4[0].conv1.weight)
    assert torch.equal(clone.layer3[0].conv1.weight, resnet.layer3[0].conv1.weight)
    assert torch.equal(randomized_copy(resnet, seed=1).fc.weight, clone.fc.weight)  # seeded
    with pytest.raises(ValueError, match="none of the layers"):
        randomized_copy(resnet, layers=("head",))


def test_rank_correlation_edge_cases():
    a = np.arange(16.0).reshape(4, 4)
    assert rank_correlation(a, a * 3 + 1) == pytest.approx(1.0)
    assert rank_correlation(a, -a) == pytest.approx(-1.0)
    assert rank_correlation(a, np.zeros_like(a)) == 0.0  # the map collapsed: no rank relation left
    assert math.isnan(rank_correlation(np.zeros_like(a), np.zeros_like(a)))
    with pytest.raises(ValueError, match="differ in size"):
        rank_correlation(a, np.zeros(3))


def test_report_has_every_metric_and_honours_switches(resnet, batch):
    method = get_method("gradcam")
    x = batch[:1]
    map_hw = method.explain(resnet, x, 1).map_hw
    report = faithfulness_report(method, resnet, x, 1, map_hw, steps=4, infidelity_samples=4, sensitivity_samples=2)
    assert set(report) == set(METRIC_NAMES)
    assert all(math.isfinite(v) for v in report.values())
    assert 0 <= report["deletion_auc"] <= 1 and 0 <= report["insertion_auc"] <= 1
    off = faithfulness_report(method, resnet, x, 1, map_hw, steps=4, infidelity_samples=0, sensitivity_samples=0, sanity=False)
    assert math.isnan(off["infidelity"]) and math.isnan(off["sensitivity_max"]) and math.isnan(off["randomization_spearman"])
    assert off["deletion_auc"] == pytest.approx(report["deletion_auc"])


def test_metrics_reject_mismatched_inputs(resnet, batch):
    with pytest.raises(ValueError, match="one image"):
        deletion_insertion(resnet, batch, np.zeros((SIZE, SIZE)), 0)
    with pytest.raises(ValueError, match="does not match"):
        deletion_insertion(resnet, batch[:1], np.zeros((5, 5)), 0)
