"""The export leaves pilot runs out unless asked, and carries the data-quality columns and flags."""

from __future__ import annotations

import uuid

from study.kit import answer_for

from study_app.export import participant_rows, response_rows
from study_app.study.quality import QualityRules

RULES = QualityRules(min_trial_seconds=3.0)


def _walk(engine, clock, *, pilot=False, seconds=5, signals=None, confidence=None):
    # From Prolific, as the kit's study expects (it returns participants there): no no_prolific_id flag.
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": uuid.uuid4().hex})
    step = engine.current_step(token)
    while step.kind != "done":
        clock.advance(seconds=seconds)
        answer = answer_for(step)
        if step.kind == "trial" and confidence is not None:
            answer["confidence"] = confidence
        step = engine.submit(token, step.step_id, answer, pilot=pilot,
                             signals=signals if step.kind == "trial" else None)
    return token


def test_pilots_are_left_out_unless_included_and_quality_is_exported(make_study, make_engine_for, repo, clock):
    engine = make_engine_for(make_study("verification", trials=5, checks=0), repo)
    pilot = repo.participant_by_token(_walk(engine, clock, pilot=True))
    fast = repo.participant_by_token(_walk(engine, clock, seconds=1, confidence=4,
                                           signals={"hidden_count": 1, "hidden_ms": 12_000, "blur_count": 1,
                                                    "blur_ms": 12_500}))
    calm = repo.participant_by_token(_walk(engine, clock, seconds=5))

    rows = response_rows(repo, engine.record, rules=RULES)
    assert {r["participant"] for r in rows} == {fast.public_id, calm.public_id}
    assert "pilot" not in rows[0]
    mine = [r for r in rows if r["participant"] == fast.public_id]
    assert len(mine) == 5 and all(r["too_fast"] is True and r["hidden_count"] == 1 and r["hidden_ms"] == 12_000
                                  for r in mine)
    assert all(r["too_fast"] is False and r["hidden_count"] is None for r in rows if r["participant"] == calm.public_id)

    people = {p["participant"]: p for p in participant_rows(repo, engine.record, rules=RULES)}
    assert set(people) == {fast.public_id, calm.public_id}
    assert people[fast.public_id]["quality_flags"] == "too_fast straight_lining away"
    assert people[fast.public_id]["too_fast_trials"] == 5 and people[fast.public_id]["away_ms"] == 5 * 12_500
    assert people[calm.public_id]["pilot"] is False and people[calm.public_id]["quality_flags"] in ("", "straight_lining")

    with_pilot = participant_rows(repo, engine.record, include_pilot=True, rules=RULES)
    assert {p["participant"]: p["pilot"] for p in with_pilot}[pilot.public_id] is True
    assert any(r["pilot"] for r in response_rows(repo, engine.record, include_pilot=True, rules=RULES))


def test_without_a_minimum_nothing_is_judged_too_fast(make_study, make_engine_for, repo, clock):
    engine = make_engine_for(make_study("verification", trials=2, checks=0), repo)
    _walk(engine, clock, seconds=1)
    assert {r["too_fast"] for r in response_rows(repo, engine.record)} == {None}


def test_export_cli_reads_the_minimum_from_the_study_file_and_includes_pilots_only_when_asked(
        tmp_path, checkpoint_dir, stimuli_dir, make_engine_for, clock, monkeypatch):
    import csv

    from study.kit import write_study

    from study_app.cli import main
    from study_app.store import Repository, make_engine
    from study_app.study import load_study

    monkeypatch.delenv("XAI_STUDY_DB_URL", raising=False)
    path = write_study(tmp_path / "studies", "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                       trials=2, checks=0)
    path.write_text(path.read_text(encoding="utf-8").replace("[design]", "min_trial_seconds = 3\n\n[design]", 1),
                    encoding="utf-8")
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'studies' / 'responses.sqlite'}"))
    engine = make_engine_for(load_study(path), repo)
    _walk(engine, clock, seconds=1)
    _walk(engine, clock, seconds=5, pilot=True)
    repo.dispose()

    def export(*extra):
        out = tmp_path / "out" / "responses.csv"
        assert main(["export", "--study", str(path), "--out", str(out), *extra]) == 0
        with out.open(encoding="utf-8") as f:
            return list(csv.DictReader(f))

    rows = export()
    assert len(rows) == 2 and {r["too_fast"] for r in rows} == {"true"}  # 1 s answers, 3 s minimum
    rows = export("--include-pilot")
    assert len(rows) == 4 and sorted(r["pilot"] for r in rows) == ["false", "false", "true", "true"]
    assert {r["too_fast"] for r in rows if r["pilot"] == "true"} == {"false"}
