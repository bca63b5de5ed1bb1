"""50 simulated participants x 20 trials at once, each driven by two racing threads (a double-clicking
participant in two tabs): exactly 1000 response rows, no duplicate, no error, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from collections import Counter

import pytest
from study.kit import answer_for

N_PARTICIPANTS = 50
N_TRIALS = 20


def _drive(engine, token: str, seed: int, errors: list, start: threading.Barrier) -> None:
    rng = random.Random(seed)
    try:
        start.wait()
        step = engine.current_step(token)
        for _ in range(200):
            if step.kind == "done":
                return
            step = engine.submit(token, step.step_id, answer_for(step, rng))
        raise AssertionError(f"{token} did not finish")
    except BaseException as exc:  # collected and asserted on below
        errors.append(exc)


@pytest.mark.slow
def test_fifty_participants_twenty_trials_concurrently(make_study, make_engine_for, repo):
    study = make_study("verification", trials=N_TRIALS, checks=0)
    engine = make_engine_for(study, repo)
    tokens = [engine.start_or_resume(None, external_ids={"PROLIFIC_PID": f"pid{i:03d}"}) for i in range(N_PARTICIPANTS)]
    errors: list[BaseException] = []
    start = threading.Barrier(2 * N_PARTICIPANTS)
    threads = [
        threading.Thread(target=_drive, args=(engine, token, 1000 * i + copy, errors, start))
        for i, token in enumerate(tokens)
        for copy in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "threads hung"
    assert errors == []

    rows = repo.count_rows()
    assert rows["participants"] == N_PARTICIPANTS
    assert rows["responses"] == N_PARTICIPANTS * N_TRIALS == 1000
    responses = list(repo.responses(engine.record.id))
    pairs = Counter((r.participant_id, r.trial_index) for r in responses)
    assert len(pairs) == 1000 and set(pairs.values()) == {1}
    participants = repo.participants(engine.record.id)
    assert all(p.status == "completed" for p in participants)
    assert {p.prolific_pid for p in participants} == {engine.hash_external_id(f"pid{i:03d}") for i in range(50)}
    # balanced assignment held under concurrency: 2 Latin-square rows, 25 each
    assert Counter(p.condition for p in participants) == {0: 25, 1: 25}
    # the log has exactly one answer event per stored answer (3 non-trial steps + 20 trials each)
    events = Counter(e.kind for e in repo.events(engine.record.id))
    assert events["consent"] == events["completion"] == N_PARTICIPANTS
    assert events["answer"] == N_PARTICIPANTS * (2 + N_TRIALS)
