"""``xai-study precompute --study FILE --prune``: after a checkpoint or stimulus is replaced, maps the study
can no longer show are deleted from its cache, and every map it can show stays."""

from __future__ import annotations

import os

import numpy as np

from study_app.cli import main as cli_main
from study_app.explain.cache import AttributionCache
from study_app.maps.coverage import missing_cache_entries, required_maps
from study_app.maps.service import make_map_service
from study_app.study import load_study


def test_prune_deletes_only_maps_the_study_cannot_show(setup_study, few_stimuli, capsys):
    setup = setup_study("verification", stimuli=few_stimuli)
    cache = AttributionCache(os.environ["XAI_STUDY_CACHE"])
    stale = "ab" + "0" * 62  # an entry of, say, a replaced checkpoint
    cache.put(stale, np.ones((4, 4), np.float32), {"method": "lime"})

    assert cli_main(["precompute", "--study", str(setup.study_file), "--prune", "--no-progress"]) == 0
    out = capsys.readouterr().out
    study = load_study(setup.study_file)
    needed = {make_map_service(cache.root).key(request) for _, request in required_maps(study)}
    assert stale not in cache and cache.get(stale) is None
    assert set(cache.keys()) == needed and len(needed) > 0
    assert f"pruned 1 cached maps the study no longer uses; {len(needed)} kept" in out
    assert missing_cache_entries(study)[1] == []


def test_prune_refuses_a_cache_folder_the_study_does_not_own(setup_study, monkeypatch, capsys):
    """Without [study] cache, --cache or $XAI_STUDY_CACHE the maps go to the shared default folder, where
    pruning would delete other studies' maps."""
    setup = setup_study("verification")
    monkeypatch.delenv("XAI_STUDY_CACHE")
    assert cli_main(["precompute", "--study", str(setup.study_file), "--prune", "--no-progress"]) == 2
    assert "needs the study's own cache folder" in capsys.readouterr().err


def test_prune_without_a_study_is_refused(tmp_path, capsys):
    code = cli_main(["precompute", "--checkpoint", str(tmp_path), "--images", str(tmp_path), "--prune"])
    assert code == 2
    assert "--prune needs --study" in capsys.readouterr().err
