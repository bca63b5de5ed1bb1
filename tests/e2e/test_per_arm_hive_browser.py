"""The new participant steps in a real browser: a within-subjects study with a per-arm questionnaire (after each
arm's block of trials) and the HIVE sequence (rating before, after, and with the reveal of the participant's own
accuracy), walked in Chromium by ``xai-study simulate --browser`` through the app as ``xai-study serve`` serves
it; every page must have a way on, and the answers must be stored where the export reads them."""

from __future__ import annotations

import pytest

from e2e.conftest import require_haproxy
from e2e.study_setup import offline_example_copy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

EXTRA = """
[[post_questionnaire]]
instrument = "hoffman_trust"
placement = "per_arm"
"""


@pytest.fixture
def study_file(clean_settings):
    """The offline verification example with per-arm trust and the HIVE sequence."""
    require_haproxy()
    return offline_example_copy("verification", clean_settings, study_lines="hive_sequence = true", tail=EXTRA,
                                study_id="per-arm-hive-browser")


def test_per_arm_and_hive_steps_are_walked_and_stored(chromium, study_file, tmp_path):
    from study_app.simulate.behaviour import Behaviour  # noqa: PLC0415
    from study_app.simulate.simulate_cli import run_simulation  # noqa: PLC0415
    from study_app.store import Repository, make_engine  # noqa: PLC0415
    from study_app.study import load_study  # noqa: PLC0415

    db_url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    summary = run_simulation(study_file, 0, Behaviour(seed=7, dropout=0.0, attention_failure=0.0), db=db_url,
                             browser=1, progress=lambda _: None)
    (walk,) = summary["browser"]["walks"]
    assert walk.ended == "no more buttons", walk.stuck
    study = load_study(study_file)
    repo = Repository(make_engine(db_url))
    try:
        (record,) = repo.studies(study.id)
        (person,) = repo.participants(record.id)
        assert person.status == "completed" and person.synthetic
        arm = repo.questionnaire_of(person.id, "arm")
        assert {k.split("_hoffman_trust_")[0] for k in arm} == set(study.arms) and len(arm) == 8 * len(study.arms)
        assert "hive_understanding" in repo.questionnaire_of(person.id, "pre")
        post = repo.questionnaire_of(person.id, "post")
        assert {"hive_understanding", "hive_understanding_revealed", "hive_revealed_correct"} <= set(post)
        assert post["hive_revealed_trials"] == study.tasks[0].trials
    finally:
        repo.dispose()
