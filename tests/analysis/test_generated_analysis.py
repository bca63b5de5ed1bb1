"""The generated analysis.py's body, called directly: the empty-denominator convention, the rules that skip a
model, and that a fit without finite estimates writes no table but says so."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from study_app.analysis import generated_analysis as ga


def _frame(rows):
    """Trials as trial_frame returns them, from (participant, arm, ai_correct, agree, initial_differs)."""
    return pd.DataFrame([{"participant": p, "image": f"i{k}", "arm": a, "correct": float(not ag), "ai_correct": ac,
                          "agree": ag, "initial_differs": d, "advice_shown": float(a != "human")}
                         for k, (p, a, ac, ag, d) in enumerate(rows)])


@pytest.mark.parametrize("convention,expected", [("exclude", np.nan), ("zero", 0.0)])
def test_empty_denominator_convention_is_applied_and_written(tmp_path, convention, expected):
    # P1 saw the ai arm's advice but never with the initial answer differing: switch fraction has no denominator
    f = _frame([("P1", "ai", 1.0, 1.0, 0.0), ("P1", "ai", 0.0, 0.0, 0.0),
                ("P2", "ai", 1.0, 1.0, 1.0), ("P2", "ai", 0.0, 1.0, 0.0),
                ("P1", "human", 1.0, 0.0, np.nan)])
    results = ga.Results(tmp_path)
    ga.descriptives(results, "t", f, ["accuracy_final", "agreement_ai_wrong", "switch_fraction"], convention)
    per = pd.read_csv(tmp_path / "t_by_participant.csv").set_index(["participant", "arm"])
    p1 = per.loc[("P1", "ai")]
    assert p1["switch_fraction_n"] == 0 and (np.isnan(p1["switch_fraction"]) if np.isnan(expected)
                                             else p1["switch_fraction"] == expected)
    assert np.isnan(per.loc[("P1", "human"), "switch_fraction"])  # no advice shown: no value under either rule
    assert per.loc[("P2", "ai"), "switch_fraction"] == 1.0 and per.loc[("P2", "ai"), "agreement_ai_wrong"] == 1.0
    by_arm = pd.read_csv(tmp_path / "t_by_arm.csv", index_col="arm")
    assert by_arm.loc["ai", "switch_fraction"] == (1.0 if convention == "exclude" else 0.5)
    assert by_arm.loc["ai", "switch_fraction_participants"] == (1 if convention == "exclude" else 2)
    assert (by_arm["empty_denominator"] == convention).all()


def _trials(n_participants, rng, agree_rate):
    rows = []
    for p in range(n_participants):
        for arm in ("ai", "gradcam"):
            for k in range(6):
                rows.append((f"P{p}", arm, 0.0, float(rng.random() < agree_rate[arm]), 1.0))
    return _frame(rows).assign(image=lambda d: "img" + (d.index % 12).astype(str))


def test_complete_separation_is_named_and_nothing_is_written(tmp_path, capsys):
    f = _trials(8, np.random.default_rng(0), {"ai": 0.5, "gradcam": 1.0})  # every gradcam trial agrees
    results = ga.Results(tmp_path)
    assert ga.fit_logistic(results, "t", "agreement_ai_wrong", f, "agree", "ai", "arm", 5) is None
    assert "complete separation" in results.rows[0]["message"] and results.rows[0]["status"] == "skipped"
    assert "gradcam" in capsys.readouterr().out and not list(tmp_path.glob("*_glmm.csv"))


def test_an_arm_below_the_minimum_is_left_out_and_said(tmp_path):
    rng = np.random.default_rng(1)
    f = pd.concat([_trials(12, rng, {"ai": 0.4, "gradcam": 0.7}),
                   _frame([(f"Q{p}", "placebo", 0.0, float(rng.random() < .5), 1.0) for p in range(3)])])
    results = ga.Results(tmp_path)
    table = ga.fit_logistic(results, "t", "agreement_ai_wrong", f, "agree", "ai", "arm", 5)
    assert list(table["term"]) == ["(Intercept)", "armgradcam"]
    assert "left out (fewer than 5 participants): placebo (3)" in results.rows[0]["message"]


def test_a_fit_without_finite_estimates_writes_no_table(tmp_path, monkeypatch, capsys):
    f = _trials(10, np.random.default_rng(2), {"ai": 0.4, "gradcam": 0.7})
    real_fit = ga.LaplaceGLMM.fit

    def nan_fit(self):
        out = real_fit(self)
        return {**out, "se": np.full_like(out["se"], np.nan), "converged": False, "hessian_ok": False}

    monkeypatch.setattr(ga.LaplaceGLMM, "fit", nan_fit)
    results = ga.Results(tmp_path)
    assert ga.fit_logistic(results, "t", "agreement_ai_wrong", f, "agree", "ai", "arm", 5) is None
    row = results.rows[0]
    assert row["status"] == "failed" and "not finite; no table written" in row["message"]
    assert "did not converge" in row["message"] and not list(tmp_path.glob("*_glmm.csv"))
    assert "FAILED" in capsys.readouterr().out


def test_no_participant_variation_is_reported_as_singular(tmp_path):
    rng = np.random.default_rng(3)
    rows = [(f"P{p}", arm, 0.0, float(rng.random() < (0.3 if arm == "ai" else 0.6)), 1.0)
            for p in range(30) for arm in ("ai", "gradcam") for _ in range(4)]
    results = ga.Results(tmp_path)
    table = ga.fit_logistic(results, "t", "m", _frame(rows).assign(image="one"), "agree", "ai", "arm", 5)
    row = results.rows[0]
    assert "(1 | image)" not in row["message"]  # a single image: no image intercept
    sd = pd.read_csv(tmp_path / "t_m_glmm_random_effects.csv")["sd"].iloc[0]
    assert row["status"] == "singular" and sd < 1e-4  # participants were simulated alike (seed 3 finds it)
    assert "participant standard deviation is estimated as 0" in row["message"]
    assert (table["status"] == "singular").all() and np.isfinite(table["se"]).all()


def test_only_trials_that_showed_the_advice_are_reliance_trials():
    t = pd.DataFrame({"participant": "P1", "image_id": ["a", "b", "c", "d"], "arm": ["ai", "ai", "human", "gradcam"],
                      "correct": "true", "model_correct": "false", "predicted_label": "cat",
                      "answer_initial": ["dog", "dog", "", "cat"], "answer_final": ["cat", "dog", "cat", "cat"],
                      "advice_on_request": "true", "answer_advice_requested": ["true", "false", "", "true"]})
    f = ga.trial_frame(t, "answer_with_advice")
    assert f["advice_shown"].tolist() == [1.0, 0.0, 0.0, 1.0]  # not requested; human arm: no advice
    assert f["agree"].tolist() == [1.0, 0.0, 1.0, 1.0] and f["initial_differs"].tolist()[:2] == [1.0, 1.0]
    assert np.isnan(f["initial_differs"].iloc[2])
    eligible, _ = ga.measure_trials(f, "agreement_ai_wrong")
    assert eligible.tolist() == [True, False, False, True]
