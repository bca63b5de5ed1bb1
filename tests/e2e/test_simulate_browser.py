"""``xai-study simulate --browser``: synthetic participants walk the real app in Chromium, served as
``xai-study serve`` serves it, and land in the database marked synthetic; a link without the study's simulator key
makes an ordinary participant (nobody can mark themselves synthetic)."""

from __future__ import annotations

import pytest

from e2e.conftest import require_haproxy
from e2e.streamlit_server import PROJECT_ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DECISION = PROJECT_ROOT / "examples" / "studies" / "offline" / "decision.toml"


@pytest.fixture
def served_here(clean_settings):
    require_haproxy()
    return clean_settings


def _participants(db_url: str):
    from study_app.store import Repository, make_engine  # noqa: PLC0415
    from study_app.study import load_study  # noqa: PLC0415

    repo = Repository(make_engine(db_url))
    try:
        (record,) = repo.studies(load_study(DECISION).id)
        people = repo.participants(record.id)
        answers = [r.participant_id for r in repo.responses(record.id)]
        return people, {p.public_id: answers.count(p.id) for p in people}
    finally:
        repo.dispose()


def test_browser_participants_walk_the_app_and_are_stored_synthetic(chromium, served_here):
    from study_app.export.export_cli import export_from_file  # noqa: PLC0415
    from study_app.simulate.behaviour import Behaviour  # noqa: PLC0415
    from study_app.simulate.simulate_cli import run_simulation  # noqa: PLC0415

    db_url = f"sqlite:///{served_here / 'responses.sqlite'}"
    summary = run_simulation(DECISION, 1, Behaviour(seed=3), db=db_url, browser=2, progress=lambda _: None)

    walks = summary["browser"]["walks"]
    assert [w.ended for w in walks] == ["no more buttons"] * 2, [w.stuck for w in walks]
    assert all(w.pages >= 5 for w in walks), [w.pages for w in walks]  # consent, instructions, trials, ...
    assert sum(summary["browser"]["statuses"].values()) == 2
    assert "NOT SYNTHETIC" not in summary["browser"]["statuses"]
    people, answers = _participants(db_url)
    walked = [p for p in people if p.public_id in summary["browser"]["participants"]]
    assert len(walked) == 2 and all(p.synthetic for p in walked)
    assert all(p.status in ("completed", "screened_out") for p in walked), [p.status for p in walked]
    assert all(answers[p.public_id] >= 3 for p in walked), answers  # their answers were stored
    out = served_here / "responses.csv"
    export_from_file(DECISION, out, db_url=db_url)
    assert not any(p.public_id in out.read_text() for p in walked)  # never in a plain export
    export_from_file(DECISION, out, db_url=db_url, include_synthetic=True)
    assert all(p.public_id in (served_here / "responses_synthetic.csv").read_text() for p in walked)


def test_a_link_without_the_simulator_key_makes_an_ordinary_participant(chromium, served_here):
    from study_app.serve.launcher import Deployment  # noqa: PLC0415
    from study_app.settings import resolve  # noqa: PLC0415
    from study_app.simulate.browser_walk import new_password, walk_browsers  # noqa: PLC0415

    db_url = f"sqlite:///{served_here / 'responses.sqlite'}"
    resolve(study=DECISION, db=db_url).engine_id_key()  # the key the app will read (created here)
    with Deployment(DECISION, db_url, replicas=1, quiet=True, researcher_password=new_password()) as app:
        (walk,) = walk_browsers(app.url, "0" * 20, 1, progress=lambda _: None)
    assert walk.ended == "no more buttons"
    people, _ = _participants(db_url)
    assert len(people) == 1 and not people[0].synthetic
