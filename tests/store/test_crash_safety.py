"""SIGKILL a server process during a burst of submits: no acknowledged answer is lost or duplicated.

The child runs the real engine, submits as fast as it can and prints each answer only after ``submit``
returned (the acknowledgement a participant's browser would get). The parent kills it mid-burst, then opens
the database as a restarted server would. SQLite runs in WAL mode with ``synchronous=NORMAL``: committed
transactions survive a process crash (the WAL is in the OS's page cache); only an OS crash or power loss
could lose the last ones, which is what ``synchronous=FULL`` would add.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from study.kit import predictions_for

from study_app.store import Repository, make_engine

REPO_ROOT = Path(__file__).resolve().parents[2]
KILL_AFTER = 40  # acknowledged answers before the kill

CHILD = r"""
import json, random, sys, threading
sys.path.insert(0, sys.argv[3])
from study.kit import answer_for
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, load_study
from study_app.study.predictions import predict_study

study = load_study(sys.argv[2])
engine = StudyEngine(study, Repository(make_engine(sys.argv[1])), predictions=predict_study(study))
lock = threading.Lock()
print("ready", flush=True)

def participant(seed):
    rng = random.Random(seed)
    while True:
        token = engine.start_or_resume(None)
        step = engine.current_step(token)
        while step.kind != "done":
            answered = step
            step = engine.submit(token, step.step_id, answer_for(step, rng))
            if answered.kind == "trial":
                with lock:
                    print(json.dumps([token, answered.trial.index, answered.trial.phase]), flush=True)

for i in range(4):
    threading.Thread(target=participant, args=(i,), daemon=True).start()
threading.Event().wait()
"""


def _burst_and_kill(url: str, study_file: str) -> list[tuple[str, int, str]]:
    child = subprocess.Popen([sys.executable, "-c", CHILD, url, study_file, str(REPO_ROOT / "tests")],
                             cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    acked = []
    try:
        deadline = time.monotonic() + 180
        assert child.stdout.readline().strip() == "ready", child.stderr.read()
        while len(acked) < KILL_AFTER:
            assert time.monotonic() < deadline and child.poll() is None, child.stderr.read()
            line = child.stdout.readline()
            acked.append(tuple(json.loads(line)))
    finally:
        child.send_signal(signal.SIGKILL)  # mid-burst: other threads are inside transactions
        child.wait(timeout=30)
    acked += [tuple(json.loads(line)) for line in child.stdout.read().splitlines() if line.startswith("[")]
    assert child.returncode == -signal.SIGKILL
    return acked


def test_sigkill_during_submits_loses_and_duplicates_nothing(repo, make_study, tmp_path):
    study = make_study("verification", trials=6, checks=0)
    url = repo.engine.url.render_as_string(hide_password=False)
    Repository(make_engine(url)).dispose()  # schema exists before the child starts
    predictions_for(study)
    acked = _burst_and_kill(url, study.source)

    if repo.dialect == "sqlite":
        with sqlite3.connect(repo.engine.url.database) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        conn.close()
    restarted = Repository(make_engine(url))  # as a restarted server opens it
    stored = {}
    for token, index, phase in acked:
        participant = restarted.participant_by_token(token)
        assert participant is not None, "an acknowledged participant vanished"
        stored.setdefault(participant.id, set()).add((index, phase))
    responses = list(restarted.responses(restarted.studies()[0].id))
    keys = [(r.participant_id, r.trial_index, r.phase) for r in responses]
    assert len(keys) == len(set(keys)), "an answer was stored twice"
    present = set(keys)
    lost = [(pid, i, p) for pid, answered in stored.items() for i, p in answered if (pid, i, p) not in present]
    assert not lost, f"acknowledged answers lost after the crash: {lost}"
    assert len(acked) >= KILL_AFTER
    restarted.dispose()
