"""What ``xai-study check`` and the gallery say about a study's cached maps beyond "all there": how converged the
sampled maps are, which entries were made with other parameters (stale: reported, never served), and about how
long the missing maps take, said without computing one. Real maps of a tiny ResNet, LIME with a small budget."""

from __future__ import annotations

import os

from app.conftest import PASSWORD_ENV
from app.drive import new_app
from app.test_readiness import check_output, line, precompute
from study_app.cli import main as cli_main
from study_app.explain.cache import AttributionCache
from study_app.explain.surrogates import CONVERGED_SPLIT_HALF
from study_app.maps.cache_audit import convergence_note
from study_app.maps.coverage import required_maps
from study_app.maps.service import make_map_service
from study_app.study import load_study
from study_app.ui import state_keys

# Small enough to be quick, and (checked below, against the records) some maps stay under the stated level.
LIME = """
[[methods]]
name = "lime"
label = "LIME"
params = { n_samples = 64, min_samples = 32, round_size = 32, n_segments = 8 }
"""


def lime_study(setup_study, few_stimuli):
    return setup_study("verification", stimuli=few_stimuli, tail=LIME)


def cached_maps(setup) -> list[tuple[str, object, str, AttributionCache]]:
    """``(description, request, key, cache)`` of every map the study can show."""
    study = load_study(setup.study_file)
    service = make_map_service(os.environ["XAI_STUDY_CACHE"])
    cache = service.service.cache
    return [(where, request, service.key(request), cache) for where, request in required_maps(study)]


def test_convergence_note_marks_maps_below_the_stated_level():
    assert convergence_note(None) is None  # a deterministic method: nothing sampled, nothing to say
    ok = convergence_note({"split_half_spearman": 0.93, "n_evaluations": 1024, "stopped": "converged"})
    assert ok.converged and ok.text == "converged: split-half ρ 0.93 (1,024 model evaluations, stopped: converged)"
    low = convergence_note({"split_half_spearman": CONVERGED_SPLIT_HALF - 0.01, "n_evaluations": 4000,
                            "stopped": "budget"})
    assert not low.converged and low.text.startswith("⚠ not converged") and "4,000 model evaluations" in low.text
    exact = convergence_note({"split_half_spearman": None, "n_evaluations": 62, "stopped": "exhaustive"})
    assert exact.converged and "every coalition enumerated" in exact.text


def test_check_estimates_missing_maps_from_cached_timings_without_computing(setup_study, few_stimuli, capsys):
    setup = lime_study(setup_study, few_stimuli)
    code, out = check_output(capsys)
    cache = AttributionCache(os.environ["XAI_STUDY_CACHE"])
    assert code == 1 and len(cache) == 0, "check computes no map"
    assert "18 of 18 maps not precomputed" in out
    assert "unknown until `xai-study precompute` times one" in line(out, "attribution cache complete")

    assert precompute(setup) == 18
    maps = cached_maps(setup)
    lime = [(key, c) for _, r, key, c in maps if r.method == "lime"]
    for key, c in lime:  # known timings: 30 s a LIME map (one image a batch)
        entry = c.get(key)
        entry.record["meta"] = {**entry.record["meta"], "seconds": 30.0, "batch_size": 1}
        c.put(key, entry.map_hw, entry.record)
    for key, c in lime[:4]:
        c.remove(key)
    for _, r, key, c in maps:
        if r.method == "gradcam":
            c.remove(key)
    before = sorted(cache.keys())
    code, out = check_output(capsys)
    detail = line(out, "attribution cache complete")
    assert code == 1 and detail.startswith("FAIL")
    assert "10 of 18 maps not precomputed" in detail
    # 4 LIME maps × 30 s; Grad-CAM has no cached map to take the time from
    assert ("about 2 min to compute 4 of them (median time of a cached map of the same method: LIME 30.0 s), "
            "the other 6 (Grad-CAM) unknown until `xai-study precompute` times one") in detail
    assert sorted(cache.keys()) == before, "check computes no map"


def test_check_warns_when_sampled_maps_have_not_converged(setup_study, few_stimuli, capsys, monkeypatch):
    setup = lime_study(setup_study, few_stimuli)
    monkeypatch.setenv(PASSWORD_ENV, "a long researcher password")
    precompute(setup)
    records = [c.get(key).record["meta"]["convergence"] for _, r, key, c in cached_maps(setup) if r.method == "lime"]
    values = [r["split_half_spearman"] for r in records]
    low = [v for v in values if v < CONVERGED_SPLIT_HALF]
    assert len(records) == 6 and low, f"the small budget should leave some maps unconverged: {values}"
    code, out = check_output(capsys)
    assert code == 0, "a warning, not a failure: " + out
    detail = line(out, "sampled maps converged")
    assert detail.startswith("warn")
    assert f"{len(low)} of 6 sampled maps have split-half ρ below {CONVERGED_SPLIT_HALF:.2f}" in detail
    assert f"ρ {min(values):.2f}" in detail and "raise n_samples for LIME" in detail
    assert line(out, "no stale maps in the cache").startswith("ok")


def test_a_map_made_with_other_parameters_is_reported_stale_and_never_served(setup_study, few_stimuli, capsys):
    setup = lime_study(setup_study, few_stimuli)
    precompute(setup)
    where, request, key, cache = next(m for m in cached_maps(setup) if m[1].method == "lime")
    service = make_map_service(cache.root)
    old_params = {**dict(request.params), "sampling": "paired"}  # made with another sampling scheme than LIME's default
    ckpt = service.checkpoint(request.checkpoint)
    old = service.service.get_or_compute(ckpt, request.image_path, "lime", old_params, target=request.target_index)
    assert old.key != key and old.key in cache
    cache.remove(key)  # only the old version of this map is left

    fresh = make_map_service(cache.root)
    assert not fresh.has(request) and fresh.cached(request) is None, "the old entry is never served"
    code, out = check_output(capsys)
    assert code == 1
    assert "1 of 18 maps not precomputed" in line(out, "attribution cache complete")
    stale = line(out, "no stale maps in the cache")
    assert stale.startswith("warn")
    assert "1 maps were made with other parameters (e.g. an older sampling scheme) and are not used" in stale
    assert f"{where} (made with other sampling)" in stale and "`--prune` removes them" in stale

    assert cli_main(["precompute", "--study", str(setup.study_file), "--no-progress"]) == 0
    served = make_map_service(cache.root).cached(request)
    assert served.cache_key == key and served.map_sha256 != old.map_sha256  # the current map, not the old one
    code, out = check_output(capsys)
    assert line(out, "attribution cache complete").startswith("ok")
    assert line(out, "no stale maps in the cache").startswith("warn")  # still there until pruned

    assert cli_main(["precompute", "--study", str(setup.study_file), "--prune", "--no-progress"]) == 0
    assert old.key not in cache
    code, out = check_output(capsys)
    assert line(out, "no stale maps in the cache").startswith("ok")


# One sampled method that cannot converge (converge_at 0.99 on 64 samples) and one that is exact (Kernel SHAP on
# three superpixels enumerates every coalition), so the gallery must show both kinds of note.
BOTH_KINDS = """
[[methods]]
name = "lime"
label = "LIME"
params = { n_samples = 64, min_samples = 32, round_size = 32, n_segments = 8, converge_at = 0.99 }

[[methods]]
name = "kernel_shap"
label = "Kernel SHAP"
params = { n_samples = 64, n_segments = 3 }
"""


def test_gallery_shows_convergence_beside_each_sampled_map_only(setup_study, few_stimuli):
    setup = setup_study("verification", stimuli=few_stimuli, tail=BOTH_KINDS)
    precompute(setup)
    service = make_map_service(os.environ["XAI_STUDY_CACHE"])
    expected = []
    for _, request, key, cache in cached_maps(setup):
        record = cache.get(key).record["meta"].get("convergence")
        assert (record is not None) == (request.method in ("lime", "kernel_shap"))  # deterministic ones have none
        assert service.cached(request).convergence == record  # what the engine records when a trial is shown
        if record is not None:
            expected.append(convergence_note(record))
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    at.switch_page("app_pages/researcher_gallery.py").run()
    assert not at.exception, [e.value for e in at.exception]
    captions = [c.value for c in at.caption if "model evaluations" in c.value]
    warnings = [w.value for w in at.warning if "model evaluations" in w.value]
    assert sorted(captions) == sorted(n.text for n in expected if n.converged)
    assert sorted(warnings) == sorted(n.text for n in expected if not n.converged)
    assert captions and warnings  # both kinds occur with this budget
