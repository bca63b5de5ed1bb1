"""Reliance per arm: estimates under both conventions, complementarity as Bansal et al. define it, and intervals
that stay honest on small counts. The trials are hand-made; the expected numbers are worked out in comments."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from study_app.analysis.reliance import MEASURE_NAMES, decision_trials, participant_table
from study_app.analysis.reliance_arms import (
    MIN_PARTICIPANTS,
    arm_summary,
    bootstrap_weights,
    wilson_interval,
)

COLS = ["participant", "arm", "image", "truth", "ai_answer", "initial_answer", "final_answer",
        "time_first_ms", "time_final_ms"]
P1 = [  # arm ai: RAIR 1/2, RSR 1/2, final accuracy 1/2, AI accuracy 1/2 (see test_reliance.py)
    ("p1", "ai", "i1", "a", "a", "a", "a", 1000, 3000), ("p1", "ai", "i2", "a", "a", "b", "a", 2000, 4000),
    ("p1", "ai", "i3", "a", "a", "b", "b", 3000, 5000), ("p1", "ai", "i4", "b", "a", "b", "b", 4000, 6000),
    ("p1", "ai", "i5", "b", "a", "b", "a", 5000, 7000), ("p1", "ai", "i6", "b", "a", "a", "a", 6000, 8000),
]
P2 = [("p2", "ai", "i1", "a", "a", "b", "a", 1000, 2000),  # RAIR 1/1, no RSR trial; final 2/2, AI 2/2
      ("p2", "ai", "i4", "b", "b", "b", "b", 3000, 4000)]
P4 = [("p4", "human", f"h{i}", "a", "a", None, ans, None, 1500) for i, ans in enumerate("aabb")]  # 2/4 right


def _trials(rows):
    return decision_trials(pd.DataFrame(rows, columns=COLS))


def _table(summary):
    return summary.set_index(["arm", "measure"])


def test_participant_and_trial_weighting_and_both_conventions():
    trials = _trials(P1 + P2 + P4)
    out = _table(arm_summary(trials, n_boot=200))
    est = out["estimate"]
    assert est["ai", "rair"] == pytest.approx((1 / 2 + 1) / 2)  # mean of participants
    assert est["ai", "rsr"] == pytest.approx(1 / 2)  # exclude: p2 has no eligible trial and is left out
    assert (out.loc[("ai", "rsr"), "participants"], out.loc[("ai", "rsr"), "empty"]) == (1, 1)
    assert out.loc[("ai", "rair"), "trials"] == 3 and (out["empty_denominator"] == "exclude").all()
    assert est["ai", "accuracy_final"] == pytest.approx((0.5 + 1.0) / 2)
    assert est["ai", "gain_vs_human_arm"] == pytest.approx(0.75 - 0.5)
    assert est["ai", "gain_vs_ai"] == pytest.approx(0.75 - (0.5 + 1.0) / 2)
    assert set(MEASURE_NAMES) <= set(out.loc["ai"].index)
    zero = _table(arm_summary(trials, n_boot=200, empty="zero"))
    assert zero.loc[("ai", "rsr"), "estimate"] == pytest.approx((1 / 2 + 0) / 2)  # p2 counts 0 and stays in
    assert (zero.loc[("ai", "rsr"), "participants"], zero.loc[("ai", "rsr"), "empty"]) == (2, 1)
    assert zero.loc[("ai", "rair"), "estimate"] == est["ai", "rair"]
    assert ("human", "rair") not in zero.index or zero.loc[("human", "rair"), "participants"] == 0
    assert out.loc[("human", "agreement"), "note"].startswith("baseline: the advice is not shown")
    assert "baseline" not in out.loc[("human", "accuracy_final"), "note"] + out.loc[("ai", "agreement"), "note"]
    by_trial = _table(arm_summary(trials, n_boot=200, weighting="trial"))["estimate"]
    assert by_trial["ai", "rair"] == pytest.approx(2 / 3)  # (1 + 1) / (2 + 1) pooled
    assert by_trial["ai", "accuracy_final"] == pytest.approx(5 / 8)
    assert out.loc[("ai", "rair"), "pooled"] == pytest.approx(2 / 3)  # the pooled share is always given


# Two participants in arm ai, two trials each; the human arm has other participants.
# q1: AI right twice, wrong first twice, switched twice: final 1, initial 0, AI 1 -> 1 - max(0, 1) = 0
# q2: AI wrong twice, right first twice, followed it once:  final .5, initial 1, AI 0 -> .5 - max(1, 0) = -.5
TEAM = [("q1", "ai", "c1", "a", "a", "b", "a", None, None), ("q1", "ai", "c2", "a", "a", "b", "a", None, None),
        ("q2", "ai", "c3", "b", "a", "b", "b", None, None), ("q2", "ai", "c4", "b", "a", "b", "a", None, None)]
HUMANS = [("h1", "human", "c5", "a", "a", None, "a", None, None), ("h1", "human", "c6", "a", "a", None, "b", None, None),
          ("h2", "human", "c7", "a", "a", None, "b", None, None), ("h2", "human", "c8", "b", "a", None, "a", None, None)]


def test_complementarity_is_the_arm_team_accuracy_against_the_better_of_human_arm_and_ai():
    out = _table(arm_summary(_trials(TEAM + HUMANS), n_boot=200))
    # team .75 (mean of 1 and .5); AI alone .5; human arm .25 (h1 1/2, h2 0/2): .75 - max(.25, .5) = +.25
    assert out.loc[("ai", "human_alone"), "estimate"] == pytest.approx(0.25)
    assert out.loc[("ai", "complementarity"), "estimate"] == pytest.approx(0.25)
    assert "the human arm (2 participants)" in out.loc[("ai", "complementarity"), "note"]
    # the per-participant variant averages (0 + -.5): the mean of maxima, biased downwards, with the other sign
    assert out.loc[("ai", "complementarity_per_participant"), "estimate"] == pytest.approx(-0.25)
    assert ("human", "complementarity") not in out.index
    alone = _table(arm_summary(_trials(TEAM), n_boot=200))
    # no human arm: human alone is the arm's own initial accuracy (0 + 1) / 2, and the note says so
    assert alone.loc[("ai", "human_alone"), "estimate"] == pytest.approx(0.5)
    assert alone.loc[("ai", "complementarity"), "estimate"] == pytest.approx(0.75 - max(0.5, 0.5))
    assert "initial answers (no human arm)" in alone.loc[("ai", "complementarity"), "note"]
    one_step = [r[:5] + (None,) + r[6:] for r in TEAM]  # no human arm and no initial answer: nothing to compare
    assert "complementarity" not in set(arm_summary(_trials(one_step), n_boot=50)["measure"])


def _within(person_prefix_human: str) -> list[tuple]:
    """Participants r0..r7: in the human arm x/4 right, in the ai arm (AI always wrong) x/4 + one more right."""
    rows = []
    for p in range(8):
        right = p % 4  # 0..3 of 4 right alone, one more with the AI
        for i in range(4):
            rows.append((f"{person_prefix_human}{p}", "human", f"h{p}{i}", "a", "b", None,
                         "a" if i < right else "c", None, None))
            rows.append((f"r{p}", "ai", f"a{p}{i}", "a", "b", None, "a" if i <= right else "c", None, None))
    return rows


def test_complementarity_interval_is_paired_within_subjects():
    paired = _table(arm_summary(_trials(_within("r")), n_boot=500)).loc[("ai", "complementarity")]
    # every participant gains exactly .25 over their own human-arm accuracy, and the AI (0) never is the better
    assert paired["estimate"] == pytest.approx(0.25)
    assert (paired["ci_low"], paired["ci_high"]) == pytest.approx((0.25, 0.25))
    unpaired = _table(arm_summary(_trials(_within("s")), n_boot=500)).loc[("ai", "complementarity")]
    assert unpaired["estimate"] == pytest.approx(0.25)
    assert unpaired["ci_high"] - unpaired["ci_low"] > 0.1  # other people in the human arm: no pairing


def test_wilson_interval_by_hand():
    z = 1.959963984540054
    assert wilson_interval(4, 4) == pytest.approx((4 / (4 + z * z), 1.0))  # k = n: lower bound n / (n + z^2)
    assert wilson_interval(0, 2) == pytest.approx((0.0, z * z / (2 + z * z)))  # k = 0: upper z^2 / (n + z^2)
    lo, hi = wilson_interval(5, 10)
    assert (lo + hi) / 2 == pytest.approx(0.5) and hi - lo == pytest.approx(2 * z / (1 + z * z / 10) *
                                                                             np.sqrt(0.25 / 10 + z * z / 400))
    assert np.isnan(wilson_interval(0, 0)[0])


def test_small_counts_are_flagged_and_get_a_wilson_interval():
    # four participants, one RAIR trial each, all switched: the bootstrap can only say [1, 1]
    rows = [(f"p{p}", "placebo", "i1", "a", "a", "b", "a", None, None) for p in range(4)]
    row = _table(arm_summary(_trials(rows), n_boot=200)).loc[("placebo", "rair")]
    assert (row["estimate"], row["ci_low"], row["ci_high"], row["participants"]) == (1.0, 1.0, 1.0, 4)
    assert f"4 participants (< {MIN_PARTICIPANTS})" in row["note"] and "no width" in row["note"]
    assert (row["pooled"], row["wilson_low"], row["wilson_high"]) == pytest.approx((1.0, 0.5101, 1.0), abs=1e-4)
    single = _table(arm_summary(_trials(rows[:1]), n_boot=50)).loc[("placebo", "rair")]
    assert np.isnan(single["ci_low"]) and single["note"] == "1 participant: no bootstrap interval"
    many = [(f"p{p}", "ai", f"i{i}", "a", "a", "b", "a" if i <= p % 3 else "b", None, None)
            for p in range(12) for i in range(3)]
    assert _table(arm_summary(_trials(many), n_boot=200)).loc[("ai", "rair"), "note"] == ""


def test_the_stated_minimum_is_where_the_percentile_bootstrap_covers_90_percent():
    """The module's reason for MIN_PARTICIPANTS: for normal data the percentile bootstrap of a mean over n
    participants covers about P(|t_(n-1)| < 1.96 sqrt((n-1)/n)); that is 81 % at 4 and first reaches 90 % at 10."""

    def coverage(n):
        return 2 * stats.t.cdf(1.959964 * np.sqrt((n - 1) / n), n - 1) - 1

    assert coverage(4) == pytest.approx(0.81, abs=0.01)
    assert coverage(MIN_PARTICIPANTS - 1) < 0.90 <= coverage(MIN_PARTICIPANTS)


def test_bootstrap_interval_brackets_and_is_reproducible():
    rng = np.random.default_rng(3)
    rows = []
    for p in range(40):
        skill = rng.uniform(0.4, 0.9)
        for i in range(10):
            rows.append((f"p{p}", "ai", f"i{i}", "a", "a" if i < 7 else "b", None,
                         "a" if rng.random() < skill else "b", None, None))
    trials = _trials(rows)
    a = arm_summary(trials, n_boot=500, seed=1)
    pd.testing.assert_frame_equal(a, arm_summary(trials, n_boot=500, seed=1))
    acc = a.set_index("measure").loc["accuracy_final"]
    assert acc["ci_low"] < acc["estimate"] < acc["ci_high"] and acc["note"] == ""
    # the participant bootstrap's spread is the standard error of the participant mean
    per_person = participant_table(trials)["accuracy_final"]
    se = per_person.std(ddof=1) / np.sqrt(len(per_person))
    assert (acc["ci_high"] - acc["ci_low"]) / (2 * 1.96) == pytest.approx(se, rel=0.2)


def test_bootstrap_weights_keep_stratum_sizes():
    people = pd.Series([f"p{i}" for i in range(7)])
    strata = pd.Series(["A"] * 3 + ["B"] * 4)
    w = bootstrap_weights(people, strata, n_boot=50, seed=0)
    assert w.shape == (50, 7)
    assert np.all(w[:, :3].sum(axis=1) == 3) and np.all(w[:, 3:].sum(axis=1) == 4)


def test_request_rate_and_times_per_arm():
    rows = [{"participant": f"p{p}", "arm": "gradcam", "image": f"i{i}", "truth": "a", "ai_answer": "a",
             "initial_answer": "b", "final_answer": "a", "advice_on_request": True, "advice_requested": i < p,
             "time_request_ms": 1000 * (p + 1) if i < p else None, "time_final_ms": 3000} for p in (1, 2)
            for i in range(2)]
    out = _table(arm_summary(decision_trials(pd.DataFrame(rows)), n_boot=50))
    assert out.loc[("gradcam", "advice_request_rate"), "estimate"] == pytest.approx((1 / 2 + 2 / 2) / 2)
    assert out.loc[("gradcam", "advice_request_rate"), "pooled"] == pytest.approx(3 / 4)
    assert out.loc[("gradcam", "time_request_s"), "estimate"] == pytest.approx((2.0 + 3.0) / 2)
    assert np.isnan(out.loc[("gradcam", "time_request_s"), "pooled"])  # a mean of seconds has no Wilson interval
    assert out.loc[("gradcam", "rair"), "trials"] == 3  # the one trial without a request is not a RAIR trial
