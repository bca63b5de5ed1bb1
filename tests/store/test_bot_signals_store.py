"""Bot and LLM-agent signals go from the submitted form into ``bot_signals`` with the answer (one transaction),
into the trials and participants exports as quality columns with their flags, and out again on withdrawal.
A participant whose browser sent nothing (a simulated one, an answer from before 0007) gets empty columns and no
flag. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

from study.kit import answer_for

from study_app.export import participant_rows, response_rows
from study_app.study.bot_signals import PARTICIPANT_COLUMNS, TRIAL_COLUMNS, summarise
from study_app.study.quality import QualityRules

POST = """
[[post_questionnaire]]
id = "thoughts"
text = "Anything else?"
kind = "text"
"""
PAGE = {"hidden_count": 0, "hidden_ms": 0, "blur_count": 0, "blur_ms": 0, "page_load": "abcd1234"}
AGENT = {"pointer_moves": 0, "pointer_path_px": 0, "pointer_clicks": 0, "key_presses": 0, "untrusted_events": 3,
         "text_fields": 0, "paste_count": 0, "pasted_chars": 0, "typed_chars": 0, "key_interval_list": [],
         "honeypot": True}
PASTER = {**AGENT, "pointer_moves": 120, "pointer_path_px": 4000, "pointer_clicks": 2, "untrusted_events": 0,
          "honeypot": False}


def _walk(engine, clock, trial_signals=None, questionnaire_signals=None, **consent):
    token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": uuid.uuid4().hex})
    step = engine.current_step(token)
    while step.kind != "done":
        clock.advance(seconds=4)
        signals = {"trial": trial_signals, "post_questionnaire": questionnaire_signals}.get(step.kind)
        step = engine.submit(token, step.step_id, answer_for(step), signals=signals,
                             **(consent if step.kind == "consent" else {}))
    return token, engine.repository.participant_by_token(token)


def test_signals_are_stored_per_step_exported_with_flags_and_withdrawn(make_study, make_engine_for, repo, clock):
    engine = make_engine_for(make_study("verification", trials=3, checks=0, tail=POST), repo)
    agent_token, agent = _walk(engine, clock, trial_signals={**PAGE, **summarise(AGENT)})
    pasted = summarise({**PASTER, "text_fields": 1, "paste_count": 1, "pasted_chars": 240, "typed_chars": 3,
                        "key_presses": 4, "key_interval_list": [150, 260, 90]})
    _, paster = _walk(engine, clock, trial_signals={**PAGE, **summarise(PASTER)}, questionnaire_signals={**PAGE, **pasted})
    _, silent = _walk(engine, clock)  # a browser that sent nothing (or a page from before these signals)
    _, simulated = _walk(engine, clock, trial_signals={**PAGE, **summarise(AGENT)}, synthetic=True)

    stored = {(s.participant_id, s.stage): s for s in repo.bot_signals(engine.record.id)}
    questionnaire = [s for s in stored.values() if s.questionnaire is not None]
    assert len(questionnaire) == 1 and questionnaire[0].participant_id == paster.id
    assert questionnaire[0].questionnaire == "post" and questionnaire[0].trial_index is None
    assert questionnaire[0].signals["pasted_chars"] == 240 and questionnaire[0].signals["key_intervals"] == 3
    assert questionnaire[0].signals["key_interval_median_ms"] == 150.0
    assert sum(s.participant_id == agent.id and s.trial_index is not None for s in stored.values()) == 3
    assert not any(s.participant_id == silent.id for s in stored.values())

    trials = response_rows(repo, engine.record, rules=QualityRules())
    assert all(set(TRIAL_COLUMNS) <= set(r) for r in trials)
    mine = [r for r in trials if r["participant"] == agent.public_id]
    assert len(mine) == 3 and all(r["flag_honeypot"] is True and r["flag_no_pointer_no_keys"] is True
                                  and r["untrusted_events"] == 3 and r["paste_count"] is None for r in mine)
    assert all(r["flag_honeypot"] is False and r["flag_no_pointer_no_keys"] is False and r["pointer_moves"] == 120
               for r in trials if r["participant"] == paster.public_id)
    assert all(r[c] is None for r in trials if r["participant"] == silent.public_id for c in TRIAL_COLUMNS)
    assert simulated.public_id not in {r["participant"] for r in trials}

    people = {p["participant"]: p for p in participant_rows(repo, engine.record, rules=QualityRules(),
                                                            include_synthetic=True)}
    assert people[agent.public_id]["flag_honeypot_steps"] == 3
    assert {"honeypot", "no_pointer_no_keys"} <= set(people[agent.public_id]["quality_flags"].split())
    assert people[paster.public_id]["flag_paste"] is True and people[paster.public_id]["pasted_chars"] == 240
    assert "paste" in people[paster.public_id]["quality_flags"].split()
    assert people[paster.public_id]["flag_honeypot"] is False
    assert all(people[silent.public_id][c] is None for c in PARTICIPANT_COLUMNS)
    assert not {"paste", "honeypot", "no_pointer_no_keys"} & set(people[silent.public_id]["quality_flags"].split())

    before = repo.count_rows()["bot_signals"]
    engine.withdraw(agent_token)
    assert repo.count_rows()["bot_signals"] == before - 3
