"""A two-step study's per-arm table, reproduced from its per-trial answers under the published convention.

The data are a synthetic reconstruction in the design of He, Kuiper & Gadiraju (2023, CHI): their per-trial data
are public but may not be redistributed. ``data/make_two_step_reconstruction.py`` wrote the trials and derived the
per-arm table independently of study_app (loops over Schemmer et al.'s four reliance cells); both files are
checked in, so this test compares the pipeline with fixed numbers.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from study_app.analysis.reliance import decision_trials
from study_app.analysis.reliance_arms import arm_summary

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def trials():
    return decision_trials(pd.read_csv(DATA / "two_step_reconstruction.csv", dtype=str))


@pytest.fixture(scope="module")
def published():
    return pd.read_csv(DATA / "two_step_reconstruction_table.csv").set_index(["arm", "measure"])


def test_the_papers_convention_reproduces_the_per_arm_table(trials, published):
    ours = arm_summary(trials, n_boot=50, empty="zero").set_index(["arm", "measure"])
    for (arm, measure), row in published.iterrows():
        assert ours.loc[(arm, measure), "estimate"] == pytest.approx(row["zero"], abs=5e-5), (arm, measure)
        assert ours.loc[(arm, measure), "participants"] == row["participants"], (arm, measure)


def test_exclude_gives_the_other_table_and_says_how_many_were_left_out(trials, published):
    ours = arm_summary(trials, n_boot=50).set_index(["arm", "measure"])
    for (arm, measure), row in published.iterrows():
        assert ours.loc[(arm, measure), "estimate"] == pytest.approx(row["exclude"], abs=5e-5), (arm, measure)
        assert ours.loc[(arm, measure), "participants"] == row["participants_exclude"], (arm, measure)
        assert ours.loc[(arm, measure), "empty"] == row["participants"] - row["participants_exclude"]
    # the convention matters: in the ai arm 5 of 12 participants never had a right first answer against a wrong AI
    rsr = published.loc[("ai", "rsr")]
    assert rsr["exclude"] - rsr["zero"] > 0.1 and rsr["participants_exclude"] == 7
