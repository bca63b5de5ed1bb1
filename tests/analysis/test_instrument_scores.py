"""Instrument scores from the participants export: per participant as published, Cronbach's alpha against its
formula (and Feldt's interval), the mean per arm with a t interval, and the export's real column names."""

from __future__ import annotations

import math
import random

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from study.kit import pg_repo, run_participant  # noqa: F401 - pg_repo: the fixture `repo` asks for

from study_app.analysis.instrument_scores import (
    InstrumentUse,
    arm_means,
    coded_items,
    cronbach_alpha,
    find_uses,
    instrument_notes,
    internal_consistency,
    score_participants,
    uses_in_study_file,
)
from study_app.export import participant_rows
from study_app.study.instruments import UNVALIDATED, score_instrument


def alpha_by_formula(x: np.ndarray) -> float:
    """Cronbach (1951): k/(k-1) * (1 - sum of item variances / variance of the total)."""
    k = x.shape[1]
    return k / (k - 1) * (1 - x.var(axis=0, ddof=1).sum() / x.sum(axis=1).var(ddof=1))


def jian_rows(n: int = 40, seed: int = 3) -> pd.DataFrame:
    """Participants whose trust items rise and distrust items fall with one latent trust, on the 1-7 scale."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=n)
    rows = {"participant": [f"p{i}" for i in range(n)], "condition": ["a" if i % 2 else "b" for i in range(n)]}
    for k in range(1, 13):
        sign = -1 if k <= 5 else 1
        rows[f"post_jian_trust_{k}"] = np.clip(np.rint(4 + 1.3 * sign * latent + rng.normal(size=n)), 1, 7).astype(int)
    return pd.DataFrame(rows)


def test_uses_are_found_from_the_export_columns():
    rows = jian_rows()
    assert find_uses(rows.columns) == [InstrumentUse("jian_trust", "post", "jian_trust")]
    assert find_uses(rows.drop(columns="post_jian_trust_7").columns) == []  # every item or none


def test_uses_with_a_prefix_come_from_the_study_file():
    data = {"pre_questionnaire": [{"id": "age", "text": "?", "kind": "number"}],
            "post_questionnaire": [{"instrument": "sus"}, {"instrument": "sus", "id_prefix": "sus_again"}]}
    assert uses_in_study_file(data) == [InstrumentUse("sus", "post", "sus"), InstrumentUse("sus", "post", "sus_again")]
    rows = pd.DataFrame({"participant": ["p"], **{f"post_sus_again_{k}": [3] for k in range(1, 11)}})
    assert score_participants(rows, uses_in_study_file(data)[1:])["post_sus_again_sus"].tolist() == [50.0]


def test_participants_are_scored_as_the_library_scores_them():
    rows = jian_rows()
    rows.loc[0, "post_jian_trust_9"] = np.nan
    table = score_participants(rows)
    assert list(table.columns[:2]) == ["participant", "condition"]
    for i, row in rows.iterrows():
        expected = score_instrument("jian_trust", {c.removeprefix("post_"): row[c] for c in rows.columns[2:]})
        for score in ("trust", "distrust", "overall"):
            got = table.loc[i, f"post_jian_trust_{score}"]
            assert (math.isnan(got) and math.isnan(expected[score])) or got == pytest.approx(expected[score])
    assert math.isnan(table.loc[0, "post_jian_trust_trust"])
    assert "jian_trust_9 missing" in table.loc[0, "post_jian_trust_trust_note"]
    assert not math.isnan(table.loc[0, "post_jian_trust_distrust"])  # item 9 is not a distrust item


def test_alpha_matches_the_formula_and_feldts_interval():
    rows = jian_rows()
    for subscale, reversed_ in (("trust", False), ("distrust", False), ("overall", True)):
        items = coded_items(rows, InstrumentUse("jian_trust", "post", "jian_trust"), subscale)
        x = items.to_numpy()
        if reversed_:
            raw = rows[[f"post_jian_trust_{k}" for k in range(1, 6)]].to_numpy()
            assert (x[:, :5] == 8 - raw).all()
        alpha, low, high, n, note = cronbach_alpha(items)
        expected = alpha_by_formula(x)
        assert alpha == pytest.approx(expected, abs=1e-9) and n == 40 and note == ""
        df1, df2 = n - 1, (n - 1) * (x.shape[1] - 1)  # Feldt (1965): (1 - alpha) scaled by F quantiles
        assert low == pytest.approx(1 - (1 - expected) * stats.f.ppf(0.975, df1, df2), abs=1e-3)
        assert high == pytest.approx(1 - (1 - expected) * stats.f.ppf(0.025, df1, df2), abs=1e-3)
    # Without reversing the distrust items the overall score's alpha collapses: the coding matters.
    plain = rows[[f"post_jian_trust_{k}" for k in range(1, 13)]].to_numpy(dtype=float)
    assert alpha_by_formula(plain) < 0.3 < cronbach_alpha(coded_items(
        rows, InstrumentUse("jian_trust", "post", "jian_trust"), "overall"))[0]


def test_alpha_says_when_it_is_undefined():
    items = pd.DataFrame({"a": [1, 2, np.nan, 4], "b": [2, np.nan, 3, 4]})
    alpha, *_, n, note = cronbach_alpha(items)
    assert math.isnan(alpha) and n == 2 and "too few" in note
    assert "one item" in cronbach_alpha(items[["a"]])[4]
    flat = pd.DataFrame({"a": [3, 3, 3], "b": [3, 3, 3]})
    assert "same total" in cronbach_alpha(flat)[4]


def test_internal_consistency_lists_every_multi_item_score():
    rows = jian_rows()
    for k, key in enumerate(("mental", "physical", "temporal", "performance", "effort", "frustration")):
        rows[f"post_nasa_tlx_{key}"] = (rows["post_jian_trust_6"] * 2 + k) % 21
    table = internal_consistency(rows)
    assert list(table["score"]) == ["post_jian_trust_trust", "post_jian_trust_distrust", "post_jian_trust_overall",
                                    "post_nasa_tlx_raw_tlx"]  # the six one-item TLX scales have no alpha
    assert (table["items"] == [7, 5, 12, 6]).all()


def test_arm_means_give_the_t_interval():
    scores = pd.DataFrame({"participant": list("abcde"), "condition": ["x", "x", "x", "y", "y"],
                           "post_sus_sus": [50.0, 60.0, 70.0, 80.0, np.nan]})
    table = arm_means(scores).set_index("condition")
    half = stats.t.ppf(0.975, 2) * 10 / math.sqrt(3)  # sd 10 over 3 participants
    assert table.loc["x", ["n", "mean", "sd"]].tolist() == [3, 60.0, 10.0]
    assert table.loc["x", "ci_low"] == pytest.approx(60 - half) and table.loc["x", "ci_high"] == pytest.approx(60 + half)
    assert table.loc["y", "n"] == 1 and math.isnan(table.loc["y", "ci_low"])  # one participant: no interval


def test_notes_show_the_translation_source_and_citation():
    notes = instrument_notes([InstrumentUse("sus", "post", "sus")], "de")
    assert len(notes) == 1 and UNVALIDATED in notes[0] and "Brooke" in notes[0] and "2.5" in notes[0]


def test_a_real_export_is_scored(make_study, make_engine_for, repo, clock):
    """Through the engine and the participants export: the columns the export writes are the ones scored."""
    tail = '\n[[post_questionnaire]]\ninstrument = "sus"\n\n[[post_questionnaire]]\ninstrument = "jian_trust"\n'
    study = make_study("verification", design="between", tail=tail)
    engine = make_engine_for(study, repo)
    for seed in range(4):
        run_participant(engine, random.Random(seed), clock=clock)
    rows = pd.DataFrame(participant_rows(repo, engine.record))
    assert {u.instrument for u in find_uses(rows.columns)} == {"sus", "jian_trust"}
    table = score_participants(rows)
    assert len(table) == 4 and table["condition"].notna().all()
    for i, row in rows.iterrows():
        answers = {c.removeprefix("post_"): row[c] for c in rows.columns if c.startswith("post_sus_")}
        assert table.loc[i, "post_sus_sus"] == pytest.approx(score_instrument("sus", answers)["sus"])
        assert 0 <= table.loc[i, "post_sus_sus"] <= 100
    assert set(arm_means(table)["score"]) == {"post_sus_sus", "post_jian_trust_trust", "post_jian_trust_distrust",
                                              "post_jian_trust_overall"}
