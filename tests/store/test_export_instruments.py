"""A study that names validated questionnaires exports each participant's scores beside their answers, scored
as the instrument's own rule says, under the prefix the study file gave; a participant who stopped before the
questionnaire has empty scores with a note naming the missing items."""

from __future__ import annotations

import csv
import math
import random

from study.kit import answer_for, write_study

from study_app.export.export_cli import export_from_file
from study_app.store import Repository, make_engine
from study_app.study import StudyEngine, load_study
from study_app.study.instruments import score_instrument

TAIL = """
[[post_questionnaire]]
instrument = "sus"

[[post_questionnaire]]
instrument = "jian_trust"
id_prefix = "trust_after"
"""


def _walk(engine, n, rng, stop_before_post=False):
    for i in range(n):
        token = engine.start_or_resume(None)
        step = engine.current_step(token)
        while step.kind != "done":
            if stop_before_post and i == n - 1 and step.kind == "post_questionnaire":
                break
            step = engine.submit(token, step.step_id, answer_for(step, rng))


def test_scores_of_named_instruments_are_exported_per_participant(tmp_path, checkpoint_dir, stimuli_dir, clock):
    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, tail=TAIL,
                       sid="instruments")
    study = load_study(path)
    db = tmp_path / "responses.sqlite"
    repo = Repository(make_engine(f"sqlite:///{db}"))
    _walk(StudyEngine(study, repo, clock=clock), 4, random.Random(2), stop_before_post=True)
    repo.dispose()
    result = export_from_file(path, tmp_path / "out" / "responses.csv", db_url=f"sqlite:///{db}")
    rows = list(csv.DictReader(result.participants_path.open(encoding="utf-8")))
    assert len(rows) == 4
    finished = [r for r in rows if r["post_sus_1"]]
    assert len(finished) == 3
    for r in finished:
        sus = score_instrument("sus", {k.removeprefix("post_"): int(v) for k, v in r.items()
                                       if k.startswith("post_sus_") and k.removeprefix("post_sus_").isdigit()})
        assert math.isclose(float(r["post_sus_sus"]), sus["sus"])
        jian = score_instrument("jian_trust", {k.removeprefix("post_"): int(v) for k, v in r.items()
                                               if k.startswith("post_trust_after_")
                                               and k.removeprefix("post_trust_after_").isdigit()},
                                id_prefix="trust_after")
        assert math.isclose(float(r["post_trust_after_trust"]), jian["trust"])
        assert math.isclose(float(r["post_trust_after_distrust"]), jian["distrust"])
    stopped = next(r for r in rows if not r["post_sus_1"])
    assert stopped["post_sus_sus"] == "" and "1" in stopped["post_sus_sus_note"]
