"""The on-disk cache (hit, miss, damaged entries, atomic concurrent writes) and the service over it."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

from study_app.explain.cache import AttributionCache, cache_key, default_cache_dir, map_sha256
from study_app.explain.hooks import hook_counts
from study_app.explain.service import ExplanationService
from trainers.checkpoint import load_checkpoint
from trainers.images import ImageLoadError, open_rgb
from trainers.predict import display_side

KEY = cache_key("ck" * 32, "im" * 32, "lime", {"n_samples": 10, "seed": 0, "target": 1})


def test_key_depends_on_every_part_and_not_on_dict_order():
    base = ("a" * 64, "b" * 64, "lime", {"n_samples": 10, "seed": 0})
    assert cache_key(*base) == cache_key("a" * 64, "b" * 64, "lime", {"seed": 0, "n_samples": 10})
    assert len({
        cache_key(*base),
        cache_key("c" * 64, *base[1:]),
        cache_key(base[0], "c" * 64, *base[2:]),
        cache_key(*base[:2], "kernel_shap", base[3]),
        cache_key(*base[:3], {"n_samples": 11, "seed": 0}),
    }) == 5


def test_miss_then_hit_round_trips_map_and_record(tmp_path):
    cache = AttributionCache(tmp_path)
    assert cache.get(KEY) is None and KEY not in cache
    m = np.random.default_rng(0).normal(size=(8, 9)).astype(np.float32)
    cache.put(KEY, m, {"labels": ["cat", "dög"], "probs": [0.75, 0.25]})
    entry = cache.get(KEY)
    np.testing.assert_array_equal(entry.map_hw, m)
    assert entry.record["labels"] == ["cat", "dög"]
    assert entry.record["map_sha256"] == map_sha256(m)
    assert len(cache) == 1
    assert not list(tmp_path.rglob("*.tmp")), "temporary files must not stay behind"


@pytest.mark.parametrize(
    "damage",
    [
        lambda p: p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2]),  # truncated
        lambda p: p.write_bytes(b"not a zip file at all"),
        lambda p: p.write_bytes(b""),
    ],
    ids=["truncated", "garbage", "empty"],
)
def test_damaged_entry_is_a_miss_and_is_replaced_by_the_next_put(tmp_path, damage, caplog):
    cache = AttributionCache(tmp_path)
    path = cache.put(KEY, np.ones((4, 4)), {"x": 1})
    damage(path)
    assert cache.get(KEY) is None
    assert "damaged cache entry" in caplog.text
    cache.put(KEY, np.ones((4, 4)), {"x": 2})
    assert cache.get(KEY).record["x"] == 2


def test_entry_whose_map_no_longer_matches_its_hash_is_rejected(tmp_path):
    cache = AttributionCache(tmp_path)
    path = cache.put(KEY, np.ones((4, 4)), {})
    with np.load(path) as data:
        record = data["record"]  # the right key and the hash of the ones map...
    np.savez(path, map=np.zeros((4, 4), dtype=np.float32), record=record)  # ...stored with other values
    assert cache.get(KEY) is None


def test_bad_keys_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a cache key"):
        AttributionCache(tmp_path).path_for("../../etc/passwd")


def test_default_cache_dir_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("XAI_STUDY_CACHE", str(tmp_path / "c"))
    assert default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("XAI_STUDY_CACHE")
    monkeypatch.chdir(tmp_path)
    assert default_cache_dir() == tmp_path / ".xai_cache"


WRITER = """
import sys, numpy as np
from study_app.explain.cache import AttributionCache
root, key, value = sys.argv[1], sys.argv[2], float(sys.argv[3])
cache = AttributionCache(root)
for _ in range(40):
    cache.put(key, np.full((64, 64), value, dtype=np.float32), {"value": value})
"""


def test_concurrent_processes_never_leave_a_corrupt_entry(tmp_path):
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), KEY, str(v)]) for v in range(3)]
    cache = AttributionCache(tmp_path)
    existed, reads = False, 0
    while any(p.poll() is None for p in procs):
        entry = cache.get(KEY)
        # Once an entry exists, a reader must always see a complete one (a rewrite in place would expose
        # truncated files), and its map must be the one its record describes.
        assert entry is not None or not existed
        if entry is not None:
            existed, reads = True, reads + 1
            assert np.all(entry.map_hw == entry.record["value"])
    assert [p.wait() for p in procs] == [0, 0, 0]
    entry = cache.get(KEY)
    assert entry is not None and np.all(entry.map_hw == entry.record["value"])
    assert not list(Path(tmp_path).rglob("*.tmp"))


# --- service ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir)


def test_service_computes_then_serves_from_cache(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "a.png"
    first = service.get_or_compute(checkpoint, image, "gradcam")
    assert not first.from_cache
    assert first.map_hw.shape == (checkpoint.input_size, checkpoint.input_size)
    prediction = service.predict(checkpoint, image)
    assert first.labels == prediction.labels and first.probs == pytest.approx(prediction.probs)
    assert first.target == prediction.index and first.target_label == prediction.label
    assert first.map_sha256 == map_sha256(first.map_hw)
    assert first.checkpoint_sha256 == checkpoint.sha256
    second = ExplanationService(tmp_path).get_or_compute(checkpoint, image, "gradcam")
    assert second.from_cache
    np.testing.assert_array_equal(second.map_hw, first.map_hw)
    assert second.map_sha256 == first.map_sha256 and second.meta == first.meta
    other_target = service.get_or_compute(checkpoint, image, "gradcam", target=(first.target + 1) % 3)
    assert not other_target.from_cache and other_target.key != first.key
    assert sum(hook_counts(checkpoint.model).values()) == 0


def test_service_recomputes_a_damaged_entry(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "b.png"
    first = service.get_or_compute(checkpoint, image, "saliency")
    service.cache.path_for(first.key).write_bytes(b"\x00" * 10)
    again = service.get_or_compute(checkpoint, image, "saliency")
    assert not again.from_cache
    np.testing.assert_array_equal(again.map_hw, first.map_hw)
    assert service.get_or_compute(checkpoint, image, "saliency").from_cache


def test_speed_parameters_share_a_cache_entry(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "a.png"
    a = service.get_or_compute(checkpoint, image, "occlusion", {"window": 8, "stride": 8, "perturbations_per_eval": 4})
    b = service.get_or_compute(checkpoint, image, "occlusion", {"window": 8, "stride": 8, "perturbations_per_eval": 16})
    assert b.from_cache and a.key == b.key


def test_service_renders_aligned_with_the_display_image(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "scan.jpg"  # grayscale
    explanation = service.get_or_compute(checkpoint, image, "gradcam")
    rendered = service.render(checkpoint, image, explanation, mode="overlay", method_label="Grad-CAM")
    assert rendered.png.startswith(b"\x89PNG")
    side = display_side(open_rgb(image).size, checkpoint.input_size)
    assert side > checkpoint.input_size  # the 48 px original is shown at its own resolution, not at 32 px
    assert rendered.size == service.display(checkpoint, image).size == (side, side)
    assert rendered.alt_text.startswith("Grad-CAM map")


def test_service_is_safe_to_share_between_threads(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    images = [image_dir / "a.png", image_dir / "b.png", image_dir / "scan.jpg"]
    results, errors = {}, []

    def work(i):
        try:
            image = images[i % 3]
            results[i] = (image, service.get_or_compute(checkpoint, image, "integrated_gradients", {"n_steps": 4}))
        except Exception as exc:  # collected, asserted below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for image, result in results.values():
        reference = ExplanationService(tmp_path / "fresh").get_or_compute(
            checkpoint, image, "integrated_gradients", {"n_steps": 4}
        )
        np.testing.assert_allclose(result.map_hw, reference.map_hw, rtol=1e-5, atol=1e-7)
    assert sum(hook_counts(checkpoint.model).values()) == 0


def test_service_errors_are_clear(tmp_path, checkpoint, image_dir):
    service = ExplanationService(tmp_path)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(ImageLoadError, match="broken.png"):
        service.get_or_compute(checkpoint, broken, "gradcam")
    with pytest.raises(ValueError, match="unknown explanation method"):
        service.get_or_compute(checkpoint, image_dir / "a.png", "anchors")
