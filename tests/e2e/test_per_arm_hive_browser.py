"""The new participant steps in a real browser: a within-subjects study with a per-arm questionnaire (after each
arm's block of trials) and the HIVE sequence (rating before, after, and with the reveal of the participant's own
accuracy), walked in Chromium by ``xai-study simulate --browser`` through the app as ``xai-study serve`` serves
it; every page must have a way on, and the answers must be stored where the export reads them."""

from __future__ import annotations

import os
import re

import pytest

from e2e.streamlit_server import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OFFLINE = PROJECT_ROOT / "examples" / "studies" / "offline" / "verification.toml"
EXTRA = """
[[post_questionnaire]]
instrument = "hoffman_trust"
placement = "per_arm"
"""


@pytest.fixture
def study_file(monkeypatch, tmp_path):
    """The offline verification example with per-arm trust and the HIVE sequence, its paths made absolute."""
    from study_app.serve.launcher import DeploymentError, find_haproxy  # noqa: PLC0415

    try:
        find_haproxy()
    except DeploymentError as exc:  # like Chromium: skipped locally, a failure in CI
        if os.environ.get("CI"):
            pytest.fail(str(exc))
        pytest.skip(str(exc))
    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_RESEARCHER_PASSWORD", "XAI_STUDY_DB_URL",
                 "XAI_STUDY_ID_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    text = OFFLINE.read_text(encoding="utf-8")
    text = re.sub(r'"(\.\./\.\./\.\./[^"]+)"', lambda m: f'"{(OFFLINE.parent / m.group(1)).resolve().as_posix()}"',
                  text)
    text = text.replace('id = "offline-pets-verification"', 'id = "per-arm-hive-browser"')
    text = text.replace("inactive_timeout_minutes = 20", "inactive_timeout_minutes = 20\nhive_sequence = true")
    path = tmp_path / "per_arm_hive.toml"
    path.write_text(text + EXTRA, encoding="utf-8")
    return path


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
