"""The decision protocol on the participant page (AppTest): the offline example, with the AI's advice on
request, on the bundled MRI model and the demo's committed cache."""

from __future__ import annotations

import shutil
from pathlib import Path

from study.test_decision import decision_extra

from app.conftest import PASSWORD_ENV
from app.drive import answer_step, click, current_kind, fill_form, new_app, run_to_end, texts
from study_app.ui import state_keys

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "studies" / "offline" / "decision.toml"
ADVICE = "Show the AI's advice"


FIRST, FINAL, SOLE = "What does the image show?", "Your final answer", "Your answer"


def _example_at_first_trial(tmp_path, monkeypatch):
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    cache = shutil.copytree(ROOT / "demo" / "cache", tmp_path / "cache")
    monkeypatch.setenv("XAI_STUDY_FILE", str(EXAMPLE))
    monkeypatch.setenv("XAI_STUDY_CACHE", str(cache))
    monkeypatch.setenv("XAI_STUDY_DB_URL", f"sqlite:///{tmp_path / 'decision.sqlite'}")
    monkeypatch.chdir(tmp_path)
    at = new_app().run()
    while current_kind(at) != "trial":
        answer_step(at)
    return at


def _answer_label(at) -> str:
    (label,) = [r.label for r in at.radio if r.label != "How confident are you?"]
    return label


def test_decision_example_asks_then_gives_advice_on_request(tmp_path, monkeypatch):
    from study_app.store import Repository, make_engine

    at = _example_at_first_trial(tmp_path, monkeypatch)
    requested = skipped = 0
    phases = []
    for _ in range(20):
        if current_kind(at) != "trial":
            break
        page = texts(at)
        phases.append({FIRST: "initial", FINAL: "final", SOLE: "sole"}[_answer_label(at)])
        if any(b.label == ADVICE for b in at.button):
            assert "The model predicts" not in page  # hidden until asked
            if requested == 0:
                at = click(at, ADVICE)
                assert "The model predicts" in texts(at) and not any(b.label == ADVICE for b in at.button)
                requested += 1
            else:
                skipped += 1
        fill_form(at)
        at = click(at, "Continue")
    assert requested == 1 and skipped >= 1
    # the three arms with advice ask first and then for a final answer; the human arm and the check ask once
    assert phases.count("initial") == phases.count("final") == 3 and phases.count("sole") == 2
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'decision.sqlite'}"))
    try:
        (study,) = repo.studies()
        finals = [r.answer for r in repo.responses(study.id) if r.phase == "final"]
    finally:
        repo.dispose()
    asked = [a for a in finals if a.get("advice_requested")]
    assert len(asked) == 1 and asked[0]["advice_requested_ms"] >= 0
    assert sum(a.get("advice_requested") is False for a in finals) == skipped


def test_final_step_shows_the_first_answer_and_the_human_arm_asks_once(tmp_path, monkeypatch):
    """The final answer revises the first, so the first stays in view above the advice; a trial that asks once
    (the human arm, the attention check) asks for "your answer", with nothing called final."""
    from study_app.store import Repository, make_engine

    at = _example_at_first_trial(tmp_path, monkeypatch)
    firsts, sole_pages = [], 0
    while current_kind(at) == "trial":
        label = _answer_label(at)
        if label == FIRST:
            assert "Your first answer" not in texts(at)
            answer = next(r for r in at.radio if r.label == FIRST)
            chosen = answer.options[-1]  # not the first option, which the form would never preselect anyway
            fill_form(at)
            answer.set_value(chosen)
            at = click(at, "Continue")
            assert _answer_label(at) == FINAL
            at = click(at, ADVICE)
            markdown = [m.value for m in at.markdown]
            shown = f"Your first answer: **{chosen}**"
            (first,) = [i for i, m in enumerate(markdown) if m.startswith(shown)]
            (advice,) = [i for i, m in enumerate(markdown) if m.startswith("The model predicts")]
            assert first < advice, "the first answer stands above the advice"
            assert "(confidence 1 on the scale from 1 to 5)" in markdown[first]
            firsts.append(chosen)
        else:
            assert label == SOLE, label
            assert "final" not in texts(at).lower() and "Your first answer" not in texts(at)
            sole_pages += 1
        fill_form(at)
        at = click(at, "Continue")
    assert len(firsts) == 3 and sole_pages == 2
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'decision.sqlite'}"))
    try:
        (study,) = repo.studies()
        responses = list(repo.responses(study.id))
    finally:
        repo.dispose()
    assert [r.answer["initial"] for r in responses if r.phase == "initial"] == firsts
    phases = {}
    for r in responses:  # the one answer of a trial that asks once is stored as final (the export's answer_final)
        phases.setdefault(r.trial_index, []).append(r.phase)
    assert sorted(map(tuple, phases.values())) == [("final",)] * 2 + [("initial", "final")] * 3


def test_analysis_page_shows_reliance_per_arm(setup_study):
    setup_study("decision", trials=8, extra=decision_extra())
    # Each participant's trials are drawn at random and the walk always picks the first class: RAIR needs a trial
    # answered wrong first with the AI right, RSR one answered right first with the AI wrong, and one walk may
    # have neither (CI saw RSR missing in about 4 of 10 walks). Participants arrive until both are defined.
    for _ in range(20):
        run_to_end(new_app().run())
        at = new_app()
        at.session_state[state_keys.RESEARCHER_OK] = True
        at.run()
        at.switch_page("app_pages/researcher_analysis.py").run()
        assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
        assert "Reliance on the AI's advice" in [s.value for s in at.subheader]
        table = next(t.value for t in at.dataframe if "measure" in t.value.columns)
        if {"rair", "rsr"} <= set(table["measure"]):
            break
    assert set(table["arm"]) == {"human", "ai", "gradcam", "placebo"}
    assert {"over_reliance", "rair", "rsr", "complementarity"} <= set(table["measure"])
    assert [d.proto.label for d in at.get("download_button")] == ["Per-participant reliance (CSV)"]
