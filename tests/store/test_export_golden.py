"""The export of a walked study, byte for byte: every protocol walked by the same simulated participants on the
same fake clock, exported, and compared with the export the code wrote before the protocols moved into their own
package (``data/golden_export/``). Values that differ between two runs by construction (temporary paths and what
hashes them, tokens, hashed external ids) are replaced by their order of first appearance, so a changed value,
column, row order or format still fails. ``XAI_STUDY_WRITE_GOLDEN=1`` rewrites the files (only on purpose)."""

from __future__ import annotations

import csv
import io
import os
import random
from pathlib import Path
from types import SimpleNamespace

import pytest
from study.kit import answer_for

from study_app.export import export_study

GOLDEN = Path(__file__).parent / "data" / "golden_export"
PROTOCOLS = ("rate", "verification", "forward_simulation", "distinction", "decision")
# Columns whose values differ between two runs by construction: the study file holds temporary paths (so its
# hash differs), tokens and the id key are random.
VOLATILE = ("study_sha256", "participant", "participant_id", "token", "prolific_pid", "study_pid", "session_id",
            "id_key_sha256", "checkpoint_dir", "image_path")


class _Maps:
    def serve_step(self, step):
        return [SimpleNamespace(png_sha256=f"png-{step.image_id}-{m.key}", cache_key=m.cache_key,
                                map_sha256=f"map-{step.image_id}-{m.key}", checkpoint_sha256=step.checkpoint_sha256,
                                faithfulness={"deletion_auc": 0.25}) for m in step.maps]


def _walk(engine, clock, n=3):
    for i in range(n):
        token = engine.start_or_resume(None, external_ids={"PROLIFIC_PID": f"P{i}"})
        rng = random.Random(100 + i)
        step = engine.current_step(token)
        while step.kind != "done":
            clock.advance(seconds=3 + i)
            step = engine.submit(token, step.step_id, answer_for(step, rng))


def _canonical(text: str, roots: list[str]) -> str:
    rows = list(csv.reader(io.StringIO(text)))
    header, seen = rows[0], {}
    volatile = [i for i, name in enumerate(header) if name in VOLATILE or name.endswith("_pid")]
    out = [header]
    for row in rows[1:]:
        row = list(row)
        for i, cell in enumerate(row):
            for root in roots:
                cell = cell.replace(root, "<tmp>")
            if i in volatile and cell:
                cell = seen.setdefault((header[i], cell), f"<{header[i]} {sum(k[0] == header[i] for k in seen) + 1}>")
            row[i] = cell
        out.append(row)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(out)
    return buffer.getvalue()


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_export_of_a_walked_study_is_unchanged(protocol, make_study, make_engine_for, sqlite_repo, clock, tmp_path,
                                               checkpoint_dir, stimuli_dir, monkeypatch):
    seeds = random.Random(5)  # each participant's plan seed, drawn by the repository from ``secrets``
    monkeypatch.setattr("secrets.randbits", lambda bits: seeds.getrandbits(bits))
    study = make_study(protocol, trials=4, checks=1, control=True, sid=f"golden-{protocol}")
    engine = make_engine_for(study, sqlite_repo, maps=_Maps())
    _walk(engine, clock)
    export_study(sqlite_repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    roots = [str(tmp_path), str(checkpoint_dir), str(stimuli_dir), checkpoint_dir.as_posix(), stimuli_dir.as_posix()]
    for name in ("r.csv", "p.csv"):
        got = _canonical((tmp_path / name).read_text(encoding="utf-8"), roots)
        golden = GOLDEN / f"{protocol}_{name}"
        if os.environ.get("XAI_STUDY_WRITE_GOLDEN") == "1":
            golden.parent.mkdir(parents=True, exist_ok=True)
            golden.write_text(got, encoding="utf-8")
        assert golden.exists(), f"{golden} missing: run once with XAI_STUDY_WRITE_GOLDEN=1 before a refactor"
        assert got == golden.read_text(encoding="utf-8"), f"{protocol} {name}: the export changed"
