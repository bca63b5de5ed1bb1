"""Power for the decision protocol: the simulation against closed forms, the design as the engine draws it,
and ``xai-study power`` describing a decision study file and honouring or refusing every flag.

The closed forms (no random effects, ``sd_participant = sd_image = 0``, so every trial is an independent
Bernoulli draw with the arm's and kind's accuracy):

* **Within subjects** the test is a paired t-test on each participant's accuracy difference
  ``d = acc_treatment - acc_reference``. In condition ``c`` a participant has ``w`` AI-wrong and ``r``
  AI-right trials in each arm, so ``E[d | c] = sum(n_k p_tk) / n_t - sum(n_k p_rk) / n_r`` and
  ``Var[d | c] = sum(n_k p_k (1 - p_k)) / n^2`` summed over both arms. Participants fill the conditions
  evenly (the engine's least-filled assignment, not a random one), so the mean difference is stratified:
  ``mean(d) ~ N(mu, sigma_w^2 / n)`` with ``mu = mean_c E[d | c]`` and ``sigma_w^2 = mean_c Var[d | c]``,
  while the t-test's sample variance estimates ``sigma^2 = sigma_w^2 + var_c E[d | c]``. Power is then
  ``Phi((sqrt(n) |mu| - t_crit sigma) / sigma_w) + Phi((-sqrt(n) |mu| - t_crit sigma) / sigma_w)``, with
  ``t_crit = t(1 - alpha/2, n - 1)`` and ``n`` the participants who give both arms the tested trials: the
  normal approximation to the paired t-test (e.g. Chow, Shao & Wang, *Sample Size Calculations in Clinical
  Research*, 2nd ed., 2008, sec. 3.1), which is exactly that when every condition has the same ``E[d | c]``.
  With one tested trial per arm, ``d`` is in {-1, 0, 1} and this is the paired-binary (McNemar) case:
  with discordance ``psi = p_t (1 - p_r) + p_r (1 - p_t)`` and ``delta = p_t - p_r``, the sample size is
  ``n = (z_(1-alpha/2) + z_(1-beta))^2 (psi - delta^2) / delta^2``; Connor (1987, Biometrics 43:207-211)
  uses the null variance ``psi`` in the first term, ``n = (z_a sqrt(psi) + z_b sqrt(psi - delta^2))^2 /
  delta^2``, which is slightly larger.
* **Between subjects** the test is Welch's t-test on participant accuracies, whose variance in arm ``j`` is
  ``sum(n_k p_jk (1 - p_jk)) / T^2``; power is the two-sample normal approximation
  ``Phi(|delta| / sqrt(V_r / n_r + V_t / n_t) - z_(1-alpha/2))`` (plus the other tail).

Accuracies stated over all trials with AI-wrong trials ``L`` log-odds harder are turned into the two kinds'
accuracies here by solving ``(1 - s) expit(a) + s expit(a + L) = p`` (``s``: the arm's AI-wrong share),
independently of :func:`study_app.analysis.power.intercepts`.

Tolerance: four Monte-Carlo standard errors of the simulated power plus 0.02 for the normal approximation.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
from scipy import optimize, stats
from study.kit import predictions_for, write_study

from study_app.analysis.power import Effect, PowerDesign, simulate_power
from study_app.analysis.power_decision import decision_layout, describe_layout
from study_app.cli import main
from study_app.study import load_study
from study_app.study.decision import pool_verdicts
from study_app.study.design import build_plan, select_items

ARMS = ("human", "ai", "gradcam", "placebo")
SIMS = 2000


def _expit(x):
    return 1 / (1 + math.exp(-x))


def _kinds(p: float, share: float, logit: float) -> tuple[float, float]:
    """(AI-wrong, AI-right) accuracy whose mix at ``share`` is ``p``, AI-wrong ``logit`` harder."""
    a = optimize.brentq(lambda a: (1 - share) * _expit(a) + share * _expit(a + logit) - p, -30, 30)
    return _expit(a + logit), _expit(a)


def _arm_moments(cell, p_kinds):
    """Mean and variance of one participant's accuracy in an arm with ``cell = (wrong, right)`` trials."""
    n = sum(cell)
    mean = sum(k * p for k, p in zip(cell, p_kinds, strict=True)) / n
    var = sum(k * p * (1 - p) for k, p in zip(cell, p_kinds, strict=True)) / n**2
    return mean, var


def paired_closed_form(layout, pair, p_ref, p_trt, n_participants, alpha=0.05):
    """Power of the paired t-test on the participants' accuracy differences (module docstring)."""
    means, variances = [], []
    for row in layout:
        (m0, v0), (m1, v1) = _arm_moments(row[pair[0]], p_ref), _arm_moments(row[pair[1]], p_trt)
        means.append(m1 - m0)
        variances.append(v0 + v1)
    mu, within = abs(float(np.mean(means))), math.sqrt(np.mean(variances))
    spread = math.sqrt(np.mean(variances) + np.var(means))  # what the t-test's sample SD estimates
    crit = stats.t.isf(alpha / 2, n_participants - 1)
    root_n = math.sqrt(n_participants)
    return float(stats.norm.cdf((root_n * mu - crit * spread) / within)
                 + stats.norm.cdf((-root_n * mu - crit * spread) / within))


def test_within_decision_design_matches_the_paired_closed_form():
    # 4 trials over 4 arms, 2 AI-wrong: each arm has 1 trial, AI-wrong in 2 of the 4 conditions, and AI-wrong
    # trials are 1.5 log-odds harder, so the difference's mean and variance differ between conditions
    layout = decision_layout(ARMS, 4, 0.5, within=True)
    design = PowerDesign(trials=4, arms=ARMS, within=True, reference="human", treatment="ai", ai_wrong_share=0.5,
                         layout=layout, sd_participant=0.0, sd_image=0.0)
    for logit in (0.0, -1.5, -3.0):
        effect = Effect(0.60, 0.70, ai_wrong_logit=logit)
        p_ref, p_trt = _kinds(0.60, 0.5, logit), _kinds(0.70, 0.5, logit)
        for n in (200, 400):
            closed = paired_closed_form(layout, (0, 1), p_ref, p_trt, n)
            simulated = simulate_power(design, effect, n, n_sims=SIMS, seed=n)
            assert abs(simulated - closed) < 4 * math.sqrt(closed * (1 - closed) / SIMS) + 0.02, (logit, n)
    # with AI-wrong trials no harder, one trial per arm is the paired-binary case: the closed form's N at 80 %
    # is the McNemar-type formula's, and Connor's (null-variance) version asks a few more
    z_a, z_b = stats.norm.isf(0.025), stats.norm.isf(0.2)
    psi, delta = 0.7 * 0.4 + 0.6 * 0.3, 0.1
    n_paired = (z_a + z_b) ** 2 * (psi - delta**2) / delta**2
    n_connor = (z_a * math.sqrt(psi) + z_b * math.sqrt(psi - delta**2)) ** 2 / delta**2
    at = paired_closed_form(layout, (0, 1), (0.6, 0.6), (0.7, 0.7), round(n_paired))
    assert at == pytest.approx(0.8, abs=0.005) and n_paired < n_connor < 1.03 * n_paired


def test_over_reliance_effect_on_ai_wrong_trials_is_the_mcnemar_case():
    # 8 trials, 4 AI-wrong: every arm gets exactly one AI-wrong trial in every condition
    layout = decision_layout(ARMS, 8, 0.5, within=True)
    assert {cell for row in layout for cell in row} == {(1, 1)}
    design = PowerDesign(trials=8, arms=ARMS, within=True, reference="ai", treatment="gradcam", ai_wrong_share=0.5,
                         layout=layout, pool_wrong=30, pool_right=30, sd_participant=0.0, sd_image=0.0)
    effect = Effect(0.40, 0.55, on="ai_wrong", other_accuracy=0.85)
    wrong_only = tuple(tuple((w, 0) for w, _ in row) for row in layout)  # the test looks at AI-wrong trials only
    for n in (150, 300):
        closed = paired_closed_form(wrong_only, (1, 2), (0.40, 0), (0.55, 0), n)
        simulated = simulate_power(design, effect, n, n_sims=SIMS, seed=n)
        assert abs(simulated - closed) < 4 * math.sqrt(closed * (1 - closed) / SIMS) + 0.02, n


def test_between_decision_design_matches_the_two_sample_closed_form():
    arms = ("human", "ai", "gradcam")
    layout = decision_layout(arms, 8, 0.25, within=False)  # 2 AI-wrong trials, all in the participant's arm
    assert describe_layout(arms, layout, within=False) == "8 in their arm, 2 of them AI-wrong"
    design = PowerDesign(trials=8, arms=arms, within=False, reference="ai", treatment="gradcam",
                         ai_wrong_share=0.25, layout=layout, sd_participant=0.0, sd_image=0.0)
    effect = Effect(0.65, 0.75, ai_wrong_logit=-1.0)
    p_ref, p_trt = _kinds(0.65, 0.25, -1.0), _kinds(0.75, 0.25, -1.0)
    (m0, v0), (m1, v1) = _arm_moments((2, 6), p_ref), _arm_moments((2, 6), p_trt)
    for n_total in (120, 240):
        per_arm = n_total // 3
        shift = abs(m1 - m0) / math.sqrt(v0 / per_arm + v1 / per_arm)
        crit = stats.norm.isf(0.025)
        closed = stats.norm.sf(crit - shift) + stats.norm.cdf(-crit - shift)
        simulated = simulate_power(design, effect, n_total, n_sims=SIMS, seed=n_total)
        assert abs(simulated - closed) < 4 * math.sqrt(closed * (1 - closed) / SIMS) + 0.02, n_total


@pytest.mark.parametrize("trials, share", [(4, 0.5), (6, 0.3), (8, 0.5)])
def test_layout_is_what_the_engine_plans(trials, share, make_study):
    """Each condition's AI-wrong and AI-right trials per arm, counted in real plans of a real study."""
    extra = ('arms = ["human", "ai", "gradcam", "placebo"]\nplacebo = { method = "gradcam", source = '
             f'"randomized_model" }}\nai_wrong_share = {share}\n')
    study = make_study("decision", trials=trials, checks=0, extra=extra)
    preds = predictions_for(study)
    items = select_items(study, preds)
    layout = decision_layout(ARMS, trials, share, within=True)
    for condition in range(4):
        steps = [s for s in build_plan(study, items, preds, condition, seed=condition).trial_steps
                 if not s.is_attention_check]
        first = {s.trial: s for s in steps}.values()  # one step per trial (the decision's first phase)
        seen = Counter((s.advice.arm, s.model.correct) for s in first)
        assert tuple((seen[arm, False], seen[arm, True]) for arm in ARMS) == layout[condition]


def _decision_file(tmp_path, checkpoint_dir, stimuli_dir, *, trials=4, share=0.5, design="within"):
    extra = ('arms = ["human", "ai", "gradcam", "placebo"]\nplacebo = { method = "gradcam", source = '
             f'"other_image" }}\nai_wrong_share = {share}\n')
    return write_study(tmp_path, "decision", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=trials,
                       checks=0, design=design, extra=extra)


def test_power_describes_the_decision_study_file(tmp_path, checkpoint_dir, stimuli_dir, capsys):
    path = _decision_file(tmp_path, checkpoint_dir, stimuli_dir)
    study = load_study(path)
    verdict = pool_verdicts(study, predictions_for(study))[0]
    rc = main(["power", "--study", str(path), "--effect", "acc:0.6,0.7", "--n", "80", "--sims", "50"])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    assert ("within subjects, arms human, ai, gradcam, placebo; 4 trials per participant, 2 of them AI-wrong "
            "(ai_wrong_share 0.5); 1 per arm, 0 or 1 of them AI-wrong by condition (mean 0.50)") in out
    assert f"pool: {verdict.have_wrong} AI-wrong and {verdict.have_right} AI-right images" in out
    assert "by the predictions of" in out and "computed now" in out
    # the over-reliance hypothesis on this file: only conditions giving both arms an AI-wrong trial are tested
    rc = main(["power", "--study", str(path), "--effect", "acc:0.4,0.6", "--effect-on", "ai_wrong",
               "--other-accuracy", "0.85", "--n", "80", "--sims", "50"])
    out = capsys.readouterr().out
    assert rc in (0, 1) and "ai-wrong trials in both arms (1 of every 4)" in out
    assert [line.split()[:2] for line in out.split("sorted:")[1].splitlines()[1:2]] == [["80", "20"]]


def test_ai_wrong_logit_changes_the_simulation(tmp_path, checkpoint_dir, stimuli_dir, capsys):
    path = _decision_file(tmp_path, checkpoint_dir, stimuli_dir, trials=8)
    powers = []
    for logit in ("0", "-2"):
        assert main(["power", "--study", str(path), "--effect", "acc:0.6,0.75", "--ai-wrong-logit", logit,
                     "--n", "60", "--sims", "400", "--seed", "1"]) in (0, 1)
        out = capsys.readouterr().out
        powers.append(out.split("sorted:")[1].splitlines()[1].split()[2])
        assert f"AI-wrong trials {float(logit):+g} log-odds" in out
    assert powers[0] != powers[1]


@pytest.mark.parametrize("flags, reason", [
    (["--effect", "h:0.2"], "needs --baseline"),
    (["--effect", "acc:0.6,0.7", "--baseline", "0.6"], "--baseline applies to diff:"),
    (["--effect", "acc:0.4,0.6", "--effect-on", "ai_wrong"], "needs --other-accuracy"),
    (["--effect", "acc:0.4,0.6", "--effect-on", "ai_wrong", "--other-accuracy", "0.8", "--ai-wrong-logit", "-1"],
     "--ai-wrong-logit applies with --effect-on all"),
    (["--effect", "acc:0.6,0.7", "--other-accuracy", "0.8"], "--other-accuracy applies with --effect-on ai_wrong"),
    (["--effect", "acc:0.6,0.7", "--ai-wrong-share", "0.1"], "rounds to 0 with the AI wrong"),
    (["--effect", "acc:0.6,0.7", "--trials", "400"], "the pool cannot satisfy this design"),
    (["--effect", "acc:0.6,0.7", "--images", "1,1"], "the pool cannot satisfy this design"),
    (["--effect", "acc:0.6,0.7", "--images", "3"], "from 2 AI-wrong and 1 AI-right images"),
    (["--effect", "acc:0.6,0.7", "--images", "a,b"], "--images 'a,b': give N or WRONG,RIGHT"),
    (["--effect", "acc:0.6,0.7", "--n", "40", "--n-max", "100"], "--n-max limits the automatic search"),
    (["--effect", "acc:0.6,0.7", "--reference", "nobody"], "reference and treatment must be two different arms"),
])
def test_flags_are_honoured_or_refused_with_a_reason(flags, reason, tmp_path, checkpoint_dir, stimuli_dir, capsys):
    path = _decision_file(tmp_path, checkpoint_dir, stimuli_dir)
    assert main(["power", "--study", str(path), *flags]) == 2
    err = capsys.readouterr().err
    assert reason in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_overrides_of_the_study_file_are_said(tmp_path, checkpoint_dir, stimuli_dir, capsys):
    path = _decision_file(tmp_path, checkpoint_dir, stimuli_dir)
    rc = main(["power", "--study", str(path), "--effect", "acc:0.6,0.7", "--trials", "8", "--between",
               "--images", "20,20", "--n", "40", "--sims", "20"])
    out = capsys.readouterr().out
    assert rc in (0, 1)
    assert "--trials 8 replaces the file's trials 4" in out and "--between replaces the file's design.type within" in out
    assert "--images 20,20 replaces the" in out and "pool: 20 AI-wrong and 20 AI-right images" in out
    assert "between subjects" in out and "8 in their arm, 4 of them AI-wrong" in out


def test_a_pair_without_tested_trials_is_refused(capsys):
    # 4 trials over 4 arms with 1 AI-wrong: no participant has an AI-wrong trial in two arms
    rc = main(["power", "--trials", "4", "--arms", "human,ai,gradcam,placebo", "--ai-wrong-share", "0.25",
               "--effect", "acc:0.4,0.6", "--effect-on", "ai_wrong", "--other-accuracy", "0.8"])
    assert rc == 2 and "no participant gives both human and ai an AI-wrong trial" in capsys.readouterr().err


def test_a_decision_file_that_does_not_load_leaves_the_pool_unknown(tmp_path, stimuli_dir, capsys):
    path = _decision_file(tmp_path, tmp_path / "no-checkpoint", stimuli_dir)
    rc = main(["power", "--study", str(path), "--effect", "acc:0.6,0.7", "--n", "40", "--sims", "20"])
    out = capsys.readouterr().out
    assert rc in (0, 1) and "4 trials per participant, 2 of them AI-wrong" in out
    assert "pool: 2 AI-wrong and 2 AI-right images: pool unknown: the study file does not load" in out
    assert "give --images WRONG,RIGHT" in out
