"""The bundled demo study through the participant page: real models, committed stimuli and cache.

Runs only where ``demo/study.toml`` exists (the demo issue adds it). Uses a temporary database, so the
demo's own responses file is untouched, and the committed cache, so no map is computed.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from app.conftest import PASSWORD_ENV
from app.drive import answer_step, current_kind, new_app

DEMO = Path(__file__).resolve().parents[2] / "demo" / "study.toml"


@pytest.mark.skipif(not DEMO.is_file(), reason="the bundled demo study is not present")
def test_bundled_demo_runs_from_consent_to_code(tmp_path, monkeypatch):
    from study_app.store import Repository, make_engine

    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("XAI_STUDY_DB_URL", f"sqlite:///{tmp_path / 'demo.sqlite'}")
    monkeypatch.chdir(tmp_path)
    at = new_app().run()
    assert current_kind(at) == "consent"
    notices = []
    seen = [current_kind(at)]
    while seen[-1] != "done":
        answer_step(at)
        notices += [w.value for w in at.warning if "clinical" in w.value]
        seen.append(current_kind(at))
        assert len(seen) < 200
    assert seen.count("trial") > 0 and notices, "MRI trials must carry the research-only notice"
    assert not any("Preparing the explanation" in s.value for s in at.get("spinner"))
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}"))
    try:
        assert repo.count_rows()["responses"] == seen.count("trial")
    finally:
        repo.dispose()
