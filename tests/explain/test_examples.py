"""Example-based explanation kinds on a real (random-weight) ResNet18 and a small real image pool.

The ranking is checked against a brute-force cosine similarity of the penultimate (avgpool) features
taken with a plain forward hook, independent of Captum.
"""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from study_app.explain.example_pool import ExamplePoolError, pool_batch_size, read_pool, validate_pool
from study_app.explain.examples import ExampleParamError, prediction_grid, similar_examples
from trainers.checkpoint import load_checkpoint
from trainers.predict import preprocess

from ._helpers import smooth_pictures

CLASSES = ["cat", "dog", "fox"]


def _save(pixels: torch.Tensor, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray((pixels.permute(1, 2, 0).numpy() * 255).astype(np.uint8)).save(path)


@pytest.fixture()
def pool_dir(tmp_path):
    """Seven images in three class folders (4 + 2 + 1)."""
    pics = smooth_pictures(8, size=40, seed=3)
    root = tmp_path / "pool"
    for i, (cls, name) in enumerate([("cat", "a"), ("cat", "b"), ("cat", "c"), ("cat", "d"),
                                     ("dog", "a"), ("dog", "b"), ("fox", "a")]):
        _save(pics[i], root / cls / f"{name}.png")
    return root


@pytest.fixture()
def shown(tmp_path):
    path = tmp_path / "shown.png"
    _save(smooth_pictures(1, size=40, seed=9)[0], path)
    return path


@pytest.fixture(scope="module")
def checkpoint(checkpoint_dir):
    return load_checkpoint(checkpoint_dir)


def _penultimate(checkpoint, paths) -> torch.Tensor:
    out = []
    handle = checkpoint.model.avgpool.register_forward_hook(lambda m, i, o: out.append(o.flatten(1)))
    with torch.no_grad():
        checkpoint.model(preprocess(checkpoint, [Image.open(p) for p in paths]))
    handle.remove()
    return out[0]


class ForwardCounter:
    """Counts images passed through the model (forward pre-hook on the whole model)."""

    def __init__(self, model):
        self.images = 0
        self.handle = model.register_forward_pre_hook(self._count)

    def _count(self, module, args):
        self.images += args[0].shape[0]

    def close(self):
        self.handle.remove()


def test_similar_examples_equal_brute_force_cosine_top_k(checkpoint, pool_dir, shown, tmp_path):
    pool = read_pool(pool_dir, CLASSES)
    result = similar_examples(checkpoint, shown, pool, cache_dir=tmp_path / "c", k=4)
    feats = _penultimate(checkpoint, [shown] + [im.path for im in pool.images])
    cos = torch.nn.functional.cosine_similarity(feats[:1], feats[1:]).numpy()
    order = sorted(range(len(pool)), key=lambda i: (-cos[i], pool.images[i].rel))[:4]
    assert [e.rel for e in result.examples] == [pool.images[i].rel for i in order]
    assert [e.similarity for e in result.examples] == pytest.approx([float(cos[i]) for i in order], abs=1e-5)
    for e in result.examples:
        assert e.label == e.rel.split("/")[0]
        with torch.no_grad():
            logits = checkpoint.model(preprocess(checkpoint, [Image.open(e.path)]))
        probs = torch.softmax(logits, 1)[0]
        assert e.predicted == CLASSES[int(probs.argmax())]
        assert e.confidence == pytest.approx(float(probs.max()), abs=1e-5)


def test_quality_figures_follow_their_definition(checkpoint, pool_dir, shown, tmp_path):
    result = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=tmp_path / "c", k=5)
    with torch.no_grad():
        predicted = CLASSES[int(checkpoint.model(preprocess(checkpoint, [Image.open(shown)])).argmax())]
    assert result.record["shown_prediction"]["label"] == predicted
    expected = sum(e.label == predicted for e in result.examples) / 5
    assert result.quality["label_agreement"] == pytest.approx(expected)
    assert result.quality["mean_similarity"] == pytest.approx(np.mean([e.similarity for e in result.examples]))
    prov = result.record
    assert prov["checkpoint_sha256"] == checkpoint.sha256 and prov["params"]["layer"] == "avgpool"
    assert prov["pool_size"] == 7 and "captum" in prov["versions"]


def test_euclidean_ranks_by_smallest_distance(checkpoint, pool_dir, shown, tmp_path):
    pool = read_pool(pool_dir, CLASSES)
    result = similar_examples(checkpoint, shown, pool, cache_dir=tmp_path / "c", k=3, metric="euclidean")
    feats = _penultimate(checkpoint, [shown] + [im.path for im in pool.images])
    dist = torch.cdist(feats[:1], feats[1:])[0].numpy()
    order = sorted(range(len(pool)), key=lambda i: (dist[i], pool.images[i].rel))[:3]
    assert [e.rel for e in result.examples] == [pool.images[i].rel for i in order]
    assert "mean_distance" in result.quality


def test_deterministic_and_ties_broken_by_path(checkpoint, pool_dir, shown, tmp_path):
    shutil.copy(pool_dir / "cat" / "a.png", pool_dir / "dog" / "c.png")  # identical features: an exact tie
    pool = read_pool(pool_dir, CLASSES)
    first = similar_examples(checkpoint, pool_dir / "cat" / "a.png", pool, cache_dir=tmp_path / "c1", k=3)
    again = similar_examples(checkpoint, pool_dir / "cat" / "a.png", pool, cache_dir=tmp_path / "c2", k=3)
    assert not again.from_cache and first.examples == again.examples
    assert [e.rel for e in first.examples[:2]] == ["cat/a.png", "dog/c.png"]


def test_second_call_is_a_cache_hit_without_any_forward(checkpoint, pool_dir, shown, tmp_path):
    pool = read_pool(pool_dir, CLASSES)
    first = similar_examples(checkpoint, shown, pool, cache_dir=tmp_path / "c", k=2)
    counter = ForwardCounter(checkpoint.model)
    try:
        second = similar_examples(checkpoint, shown, pool, cache_dir=tmp_path / "c", k=2)
    finally:
        counter.close()
    assert counter.images == 0 and second.from_cache and not first.from_cache
    assert second.examples == first.examples and second.record == first.record


def test_a_moved_pool_keeps_its_results_with_paths_in_the_new_folder(checkpoint, pool_dir, shown, tmp_path):
    first = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=tmp_path / "c", k=2)
    moved = pool_dir.rename(tmp_path / "moved")
    again = similar_examples(checkpoint, shown, read_pool(moved, CLASSES), cache_dir=tmp_path / "c", k=2)
    assert again.from_cache and [e.rel for e in again.examples] == [e.rel for e in first.examples]
    assert all(Path(e.path) == moved / e.rel and Path(e.path).is_file() for e in again.examples)


def test_pool_features_are_computed_once_per_pool(checkpoint, pool_dir, shown, tmp_path):
    pool = read_pool(pool_dir, CLASSES)
    counter = ForwardCounter(checkpoint.model)
    try:
        similar_examples(checkpoint, shown, pool, cache_dir=tmp_path / "c", k=2)
        after_first = counter.images
        similar_examples(checkpoint, pool_dir / "dog" / "a.png", pool, cache_dir=tmp_path / "c", k=2)
    finally:
        counter.close()
    assert after_first >= 2 * len(pool)  # pool features + pool predictions + the shown image
    assert counter.images - after_first == 2  # the new shown image only: its features and its prediction


def test_key_changes_with_a_changed_pool_file_and_with_k(checkpoint, pool_dir, shown, tmp_path):
    cache = tmp_path / "c"
    before = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=cache, k=2)
    other_k = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=cache, k=3)
    _save(smooth_pictures(1, size=40, seed=77)[0], pool_dir / "fox" / "a.png")
    after = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=cache, k=2)
    assert len({before.key, other_k.key, after.key}) == 3 and not after.from_cache
    assert before.record["pool_sha256"] != after.record["pool_sha256"]


def test_prediction_grid_groups_by_prediction_most_confident_first(checkpoint, pool_dir, tmp_path):
    pool = read_pool(pool_dir, CLASSES)
    grid = prediction_grid(checkpoint, pool, cache_dir=tmp_path / "c", n=2)
    logits = checkpoint.model(preprocess(checkpoint, [Image.open(im.path) for im in pool.images]))
    probs = torch.softmax(logits, 1).detach()
    conf, pred = probs.max(1)
    for c, cls in enumerate(CLASSES):
        members = sorted((i for i in range(len(pool)) if int(pred[i]) == c),
                         key=lambda i: (-float(conf[i]), pool.images[i].rel))[:2]
        assert grid.record["groups"][cls] == [pool.images[i].rel for i in members]
    assert all(e.predicted == cls for cls, rels in grid.record["groups"].items()
               for e in grid.examples if e.rel in rels)
    again = prediction_grid(checkpoint, pool, cache_dir=tmp_path / "c", n=2)
    assert again.from_cache and again.examples == grid.examples


@pytest.mark.parametrize(("params", "field"), [
    ({"k": 0}, "k:"), ({"k": 8}, "k:"), ({"k": "3"}, "k:"), ({"layer": "nope"}, "layer:"),
    ({"metric": "dot"}, "metric:"), ({"top": 3}, "top:"),
])
def test_bad_parameters_get_a_one_line_error_naming_the_field(checkpoint, pool_dir, shown, tmp_path, params, field):
    with pytest.raises(ExampleParamError) as err:
        similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=tmp_path / "c", **params)
    assert str(err.value).startswith(field) and "\n" not in str(err.value)


def test_pool_validation_names_each_problem(pool_dir, tmp_path):
    (pool_dir / "cat" / "broken.png").write_bytes(b"not an image")
    (pool_dir / "wolf").mkdir()
    _save(smooth_pictures(1, size=40, seed=5)[0], pool_dir / "wolf" / "x.png")
    (pool_dir / "fox" / "a.png").unlink()
    stimulus = pool_dir / "dog" / "a.png"
    findings = validate_pool(pool_dir, CLASSES, k=20, stimuli_sha256=[hashlib.sha256(stimulus.read_bytes()).hexdigest()])
    text = [str(f) for f in findings]
    assert any(f.where.endswith("broken.png") for f in findings)
    assert any(f.where.endswith("wolf") and "not a class of the model" in f.problem for f in findings)
    assert any(f.where.endswith("fox") and "has no images" in f.problem for f in findings)
    assert any(f.where.endswith("dog/a.png") and "stimulus" in f.problem for f in findings)
    assert any("fewer than k=20" in f.problem for f in findings)
    assert len(findings) == 5 and all("\n" not in t for t in text)
    with pytest.raises(ExamplePoolError, match="broken.png"):
        read_pool(pool_dir, CLASSES)


def test_a_clean_pool_has_no_findings_and_a_missing_one_says_so(pool_dir, tmp_path):
    assert validate_pool(pool_dir, CLASSES, k=7) == []
    assert "not a folder" in validate_pool(tmp_path / "nowhere", CLASSES)[0].problem


def test_batch_size_divides_the_pool():
    assert [pool_batch_size(n) for n in (1, 7, 64, 100, 97)] == [1, 7, 32, 25, 1]


def test_an_interrupted_pool_build_leaves_nothing_behind(checkpoint, pool_dir, shown, tmp_path, monkeypatch):
    import study_app.explain.example_pool as example_pool

    def fail(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(example_pool, "predict_topk", fail)
    with pytest.raises(KeyboardInterrupt):
        similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=tmp_path / "c", k=2)
    assert list((tmp_path / "c" / "example_pools").iterdir()) == []
    monkeypatch.undo()
    result = similar_examples(checkpoint, shown, read_pool(pool_dir, CLASSES), cache_dir=tmp_path / "c", k=2)
    assert len(result.examples) == 2 and len(list((tmp_path / "c" / "example_pools").iterdir())) == 1
