"""The export's provenance lookup finds exactly the cached map a participant saw, without a model."""

from __future__ import annotations

from dataclasses import replace

import pytest

from study_app.explain.provenance import make_provenance_lookup
from study_app.explain.sanity import RANDOMIZED_SUFFIX, randomized_copy
from study_app.explain.service import ExplanationService
from trainers.checkpoint import load_checkpoint

CHEAP = {"steps": 4, "infidelity_samples": 2, "sensitivity_samples": 0, "sanity": False}


@pytest.fixture(scope="module")
def checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir)


def test_lookup_returns_the_cached_map_hash_and_scores(tmp_path, checkpoint, checkpoint_dir, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "a.png"
    shown = service.get_or_compute(checkpoint, image, "gradcam", faithfulness=True, faithfulness_options=CHEAP)
    lookup = make_provenance_lookup(tmp_path / "study.toml", cache_dir=tmp_path)
    info = {
        "key": "gradcam",
        "name": "gradcam",
        "params": {},
        "target": None,
        "randomized_model": False,
        "checkpoint": str(checkpoint_dir),
        "checkpoint_sha256": None,
        "image_path": str(image),
        "image_sha256": None,
        "predicted_label": shown.target_label,
    }
    found = lookup("verification", "a", info)
    assert found["map_sha256"] == shown.map_sha256
    assert found["faithfulness"] == pytest.approx(shown.faithfulness, nan_ok=True)
    # A different class, other parameters or a method never computed: nothing to report.
    other = next(c for c in checkpoint.class_names if c != shown.target_label)
    assert lookup("verification", "a", {**info, "target": other}) is None
    assert lookup("verification", "a", {**info, "name": "saliency"}) is None
    assert lookup("verification", "a", {**info, "name": "none"}) is None
    assert lookup("verification", "a", {**info, "checkpoint": str(tmp_path / "missing")}) is None


def test_lookup_keeps_the_randomised_control_apart(tmp_path, checkpoint, checkpoint_dir, image_dir):
    service = ExplanationService(tmp_path)
    image = image_dir / "b.png"
    target = service.predict(checkpoint, image).index
    control = replace(checkpoint, model=randomized_copy(checkpoint.model), sha256=checkpoint.sha256 + RANDOMIZED_SUFFIX)
    shown = service.get_or_compute(control, image, "saliency", target=target)
    lookup = make_provenance_lookup(None, cache_dir=tmp_path)
    info = {
        "name": "saliency",
        "params": {},
        "target": checkpoint.class_names[target],
        "checkpoint": str(checkpoint_dir),
        "checkpoint_sha256": checkpoint.sha256,
        "image_path": str(image),
    }
    assert lookup("t", "b", {**info, "randomized_model": True})["map_sha256"] == shown.map_sha256
    assert lookup("t", "b", {**info, "randomized_model": False}) is None
