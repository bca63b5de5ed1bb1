"""Power simulation: the closed-form case, the test's level, effect-size conversions and the command."""

from __future__ import annotations

import math

import numpy as np
import pytest
from statsmodels.stats import power as statsmodels_power
from statsmodels.stats.proportion import proportion_effectsize

from study_app.analysis import power_cli
from study_app.analysis.power import (
    Effect,
    PowerDesign,
    cohens_f_from_eta2,
    cohens_h,
    intercepts,
    marginal_accuracy,
    p_from_h,
    power_curve,
    simulate_power,
    smallest_n,
    two_proportion_power,
)
from study_app.cli import main


def _statsmodels():
    """statsmodels' power module and ``proportion_effectsize`` (the reference implementation)."""
    return statsmodels_power, proportion_effectsize


def _two_arms(**kw):
    return PowerDesign(**{"trials": 1, "arms": ("a", "b"), "within": False, "reference": "a", "treatment": "b",
                          "sd_participant": 0.0, "sd_image": 0.0, **kw})


@pytest.mark.parametrize("n_total", [300, 800])
def test_one_trial_no_random_effects_matches_the_two_proportion_z_test(n_total):
    statsmodels_power, proportion_effectsize = _statsmodels()
    sims = 4000
    simulated = simulate_power(_two_arms(), Effect(0.70, 0.78), n_total, n_sims=sims, seed=11)
    h = proportion_effectsize(0.78, 0.70)
    closed = statsmodels_power.NormalIndPower().power(effect_size=h, nobs1=n_total // 2, alpha=0.05, ratio=1.0)
    mc_se = math.sqrt(closed * (1 - closed) / sims)
    assert abs(simulated - closed) < 4 * mc_se + 0.01, (simulated, closed)
    assert two_proportion_power(0.70, 0.78, n_total // 2, n_total // 2) == pytest.approx(closed, abs=1e-9)


@pytest.mark.parametrize("within", [True, False])
def test_the_participant_level_test_keeps_its_level_with_random_effects(within):
    design = PowerDesign(trials=12, arms=("none", "gradcam", "placebo"), within=within, reference="none",
                         treatment="gradcam", ai_wrong_share=0.25, sd_participant=1.0, sd_image=1.0)
    sims = 3000
    rate = simulate_power(design, Effect(0.7, 0.7, ai_wrong_logit=-1.0), 36, n_sims=sims, seed=5)
    assert abs(rate - 0.05) < 4 * math.sqrt(0.05 * 0.95 / sims)


def test_intercepts_reproduce_the_stated_marginal_accuracy():
    design = PowerDesign(trials=20, arms=("ai", "gradcam"), within=True, reference="ai", treatment="gradcam",
                         ai_wrong_share=0.3, sd_participant=0.8, sd_image=0.6)
    sd = math.hypot(0.8, 0.6)
    a = intercepts(design, Effect(0.70, 0.78, ai_wrong_logit=-1.5))
    for row, p in ((0, 0.70), (1, 0.78)):
        mix = 0.7 * marginal_accuracy(a[row, 0], sd) + 0.3 * marginal_accuracy(a[row, 1], sd)
        assert mix == pytest.approx(p, abs=1e-8)
        assert a[row, 1] - a[row, 0] == pytest.approx(-1.5)
    a = intercepts(design, Effect(0.40, 0.55, on="ai_wrong", other_accuracy=0.85))
    assert marginal_accuracy(a[0, 1], sd) == pytest.approx(0.40) and marginal_accuracy(a[1, 1], sd) == pytest.approx(0.55)
    assert a[0, 0] == pytest.approx(a[1, 0]) and marginal_accuracy(a[0, 0], sd) == pytest.approx(0.85)
    # monte-carlo check of the quadrature
    z = np.random.default_rng(0).normal(0, sd, 400_000)
    assert np.mean(1 / (1 + np.exp(-(a[0, 0] + z)))) == pytest.approx(0.85, abs=3e-3)


def test_effect_size_conversions():
    statsmodels_power, proportion_effectsize = _statsmodels()
    assert cohens_h(0.78, 0.70) == pytest.approx(proportion_effectsize(0.78, 0.70))
    assert p_from_h(0.70, cohens_h(0.78, 0.70)) == pytest.approx(0.78)
    # eta² = 0.06 ("medium") is f = 0.2526, not 0.06: an ANOVA power routine expects f
    assert cohens_f_from_eta2(0.06) == pytest.approx(0.25264, abs=1e-5)
    anova = statsmodels_power.FTestAnovaPower()
    n_f = anova.solve_power(effect_size=cohens_f_from_eta2(0.06), k_groups=3, alpha=0.05, power=0.8)
    n_eta = anova.solve_power(effect_size=0.06, k_groups=3, alpha=0.05, power=0.8)
    assert n_eta > 10 * n_f  # the peers' mistake costs an order of magnitude in N


def test_more_trials_and_within_designs_need_fewer_participants():
    effect = Effect(0.70, 0.80)
    base = dict(arms=("none", "gradcam"), reference="none", treatment="gradcam", sd_participant=0.5, sd_image=0.3)
    few = simulate_power(PowerDesign(trials=4, within=False, **base), effect, 80, n_sims=800, seed=1)
    many = simulate_power(PowerDesign(trials=20, within=False, **base), effect, 80, n_sims=800, seed=1)
    within = simulate_power(PowerDesign(trials=20, within=True, **base), effect, 80, n_sims=800, seed=1)
    assert few < many < within


def test_search_finds_the_first_n_over_target_and_is_reproducible():
    design = PowerDesign(trials=20, arms=("none", "gradcam"), within=True, reference="none", treatment="gradcam",
                         ai_wrong_share=0.3)
    effect = Effect(0.65, 0.80)
    seen = []
    rows = power_curve(design, effect, n_sims=400, seed=3, progress=seen.append)
    assert len(seen) == len(rows) > 2  # one progress line per N tried
    assert [r.n_participants for r in rows] == sorted(r.n_participants for r in rows)
    n = smallest_n(rows)
    assert n is not None and all(r.power < 0.8 for r in rows if r.n_participants < n)
    assert all(r.n_participants % 2 == 0 for r in rows)
    again = power_curve(design, effect, n_sims=400, seed=3)
    assert [(r.n_participants, r.power) for r in again] == [(r.n_participants, r.power) for r in rows]


def test_design_from_a_study_file(tmp_path):
    fields = power_cli.design_from_study("examples/studies/verification.toml")
    assert fields["within"] and fields["trials"] == 8 and fields["ai_wrong_share"] == 0.5
    assert fields["arms"] == ["gradcam", "occlusion", "gradcam@random", "none"]
    future = tmp_path / "decision.toml"
    future.write_text('[design]\ntype = "between"\n[[methods]]\nname = "gradcam"\n'
                      '[[tasks]]\nname = "mri"\nprotocol = "decision"\ntrials = 24\nai_wrong_share = 0.3\n'
                      'arms = ["human", "ai", "gradcam", "placebo"]\n', encoding="utf-8")
    fields = power_cli.design_from_study(future)
    assert (fields["within"], fields["trials"], fields["ai_wrong_share"]) == (False, 24, 0.3)
    assert fields["arms"] == ["human", "ai", "gradcam", "placebo"]


def test_parse_effect_forms():
    assert power_cli.parse_effect("acc:0.7,0.78", None) == (0.7, 0.78)
    assert power_cli.parse_effect("diff:0.1", 0.6) == pytest.approx((0.6, 0.7))
    assert power_cli.parse_effect("or:1.5", 0.5) == pytest.approx((0.5, 0.6))
    assert power_cli.parse_effect("h:0.2", 0.5)[1] == pytest.approx(math.sin(math.asin(math.sqrt(0.5)) + 0.1) ** 2)
    with pytest.raises(ValueError, match="baseline"):
        power_cli.parse_effect("or:1.5", None)


def test_power_command_prints_progress_and_the_answer(capsys):
    rc = main(["power", "--study", "examples/studies/verification.toml", "--effect", "acc:0.6,0.8",
               "--sims", "300", "--reference", "none", "--treatment", "gradcam"])
    out = capsys.readouterr().out
    assert rc == 0
    assert "within subjects" in out and "gradcam@random" in out and "paired t-test" in out
    assert "reach" in out and "independent" in out
    rc = main(["power", "--trials", "24", "--arms", "human,ai,gradcam,placebo", "--between",
               "--ai-wrong-share", "0.3", "--effect", "acc:0.4,0.6", "--effect-on", "ai_wrong",
               "--other-accuracy", "0.85", "--reference", "ai", "--treatment", "gradcam", "--n", "40,80",
               "--sims", "200"])
    out = capsys.readouterr().out
    assert "7 of them AI-wrong" in out and "between subjects" in out
    assert rc in (0, 1)  # 0: 80 % reached at N = 80, 1: not reached on this grid; both are answers
    table = out.split("sorted:")[1].splitlines()[1:3]
    assert [line.split()[:2] for line in table] == [["40", "10"], ["80", "20"]]  # N, per arm
    assert main(["power", "--effect", "acc:0.6,0.8"]) == 2  # no design at all
