"""The bundled demo study through the participant page: real models, committed stimuli and cache.

Runs only where ``demo/study.toml`` exists (the demo issue adds it). Uses a temporary database, so the
demo's own responses file is untouched, and a copy of the committed cache, which must already hold every
map: a stale cache (say, after a retrained checkpoint without ``precompute --prune``) fails the test
instead of quietly computing into the repository.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from app.conftest import PASSWORD_ENV
from app.drive import answer_step, current_kind, new_app

DEMO = Path(__file__).resolve().parents[2] / "demo" / "study.toml"


@pytest.mark.skipif(not DEMO.is_file(), reason="the bundled demo study is not present")
def test_bundled_demo_runs_from_consent_to_code(tmp_path, monkeypatch):
    from study_app.store import Repository, make_engine

    for name in ("XAI_STUDY_FILE", PASSWORD_ENV):
        monkeypatch.delenv(name, raising=False)
    cache = shutil.copytree(DEMO.parent / "cache", tmp_path / "cache")
    committed = sorted(p.name for p in cache.rglob("*.npz"))
    monkeypatch.setenv("XAI_STUDY_CACHE", str(cache))
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
    assert sorted(p.name for p in cache.rglob("*.npz")) == committed, "a map was computed: the demo cache is stale"
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'demo.sqlite'}"))
    try:
        assert repo.count_rows()["responses"] == seen.count("trial")
    finally:
        repo.dispose()


@pytest.mark.skipif(not DEMO.is_file(), reason="the bundled demo study is not present")
def test_bundled_demo_cache_holds_every_map_and_nothing_else():
    """Every map any participant of the demo or of the offline examples (which share its cache) could be
    shown is committed, and no map of an old checkpoint lingers. The demo's decision task has its own model
    and slices: one Grad-CAM map per slice (its method arm; its placebo, Grad-CAM of another slice the AI
    predicts as the same class, is one of them), and no LIME or Kernel SHAP map, which it never shows."""
    from study_app.explain.panels import is_panel, panel_cache
    from study_app.maps.coverage import missing_cache_entries, required_maps
    from study_app.maps.service import make_map_service
    from study_app.study import load_study

    study = load_study(DEMO)
    service = make_map_service(DEMO.parent / "cache")
    total, missing = missing_cache_entries(study, service)
    assert missing == []
    requests = [request for _, request in required_maps(study)]
    demo_maps = {service.key(r) for r in requests if not is_panel(r.method)}
    demo_panels = {service.key(r) for r in requests if is_panel(r.method)}
    # pets and MRI: 12 images x 3 methods; pets-kinds: 12 x Grad-CAM (the pets task's own), similar examples and
    # concepts; decision: 24 slices x 1
    assert total == 36 + 36 + 12 * 3 + 24
    assert len(demo_maps) == 36 + 36 + 24
    assert len(demo_panels) == 12 + 2  # similar examples per photo; concepts per class (the same for its photos)
    needed, panels = set(demo_maps), set(demo_panels)
    for example in sorted((DEMO.parents[1] / "examples" / "studies" / "offline").glob("*.toml")):
        other = load_study(example)
        assert missing_cache_entries(other, service)[1] == [], example.name
        for _, request in required_maps(other):
            (panels if is_panel(request.method) else needed).add(service.key(request))
    assert set(service.service.cache.keys()) == needed
    assert set(panel_cache(service.cache_dir).keys()) == panels
