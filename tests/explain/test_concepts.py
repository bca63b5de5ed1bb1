"""The concepts kind: Captum's TCAV on the bundled cat/dog ResNet18 and real pet photos shipped with the demo.

The planted effect: for class ``cat``, a "concept" of cat photos against random subsets of dog photos gives a CAV
along the model's own cat-vs-dog direction, so the cat logit rises along it for (nearly) every cat photo, far
more often than along random-vs-random CAVs; a concept of other dog photos (the random images' distribution)
must not come out significant.
"""

from __future__ import annotations

import json
import math
import random
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
from torch.utils.data import DataLoader, TensorDataset

from study_app.explain.concept_sets import (
    MIN_CONCEPT_IMAGES,
    ConceptSetError,
    read_concepts,
    validate_concepts,
)
from study_app.explain.concepts import (
    CavClassifier,
    ConceptParamError,
    ConceptResult,
    ConceptScore,
    concept_scores,
    derangement,
    shuffled,
)
from study_app.explain.example_pool import read_pool
from trainers.checkpoint import file_sha256, load_checkpoint

ROOT = Path(__file__).resolve().parents[2]
DEMO_CONCEPTS = ROOT / "demo" / "concepts" / "pets"
STIMULI = ROOT / "demo" / "stimuli" / "pets"
RUNS = 6


def _photos(prefix: str) -> list[Path]:
    """The pet photos of one class in the demo concept folders (none is a demo stimulus), by file name."""
    return sorted(DEMO_CONCEPTS.glob(f"*/*{prefix}_*.jpg"), key=lambda p: p.name)


def _copy(files, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copy(f, folder / f.name)


@pytest.fixture(scope="module")
def checkpoint():
    return load_checkpoint(ROOT / "checkpoints" / "catdog_resnet18", "cpu")


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """Concepts ``cat_photos`` (6 cats) and ``dog_photos`` (6 dogs), ``random/`` of 12 other dogs; a pool whose
    cat images (the TCAV inputs) are the other 11 cat photos (all of which the model classifies as cats)."""
    base = tmp_path_factory.mktemp("planted")
    cats, dogs = _photos("cat"), _photos("dog")
    _copy(cats[:6], base / "concepts" / "cat_photos")
    _copy(dogs[:6], base / "concepts" / "dog_photos")
    _copy(dogs[6:18], base / "concepts" / "random")
    _copy(cats[6:], base / "pool" / "cat")
    _copy(sorted((STIMULI / "dog").glob("*.jpg"))[:1], base / "pool" / "dog")
    return base


@pytest.fixture(scope="module")
def planted_result(checkpoint, planted, tmp_path_factory):
    pool = read_pool(planted / "pool", checkpoint.class_names)
    cache = tmp_path_factory.mktemp("cache")
    return concept_scores(checkpoint, read_concepts(planted / "concepts"), pool, 0, cache_dir=cache, runs=RUNS)


def test_planted_concept_is_significant_and_a_random_concept_is_not(planted_result):
    by_name = {c.name: c for c in planted_result.concepts}
    assert [c.name for c in planted_result.concepts] == ["cat_photos", "dog_photos"]
    cat, dog = by_name["cat_photos"], by_name["dog_photos"]
    record = planted_result.record
    assert cat.significant and cat.p_value < 0.05 / 2 and cat.score > np.mean(record["null_run_scores"]) + 0.2
    assert not dog.significant and dog.p_value > 0.05 / 2
    # the stored figures are the t-test of the stored runs (Kim et al.'s test), and the score their mean
    for row in record["concepts"]:
        p = stats.ttest_ind(row["run_scores"], record["null_run_scores"]).pvalue
        assert row["p_value"] == pytest.approx(p)
        assert row["score"] == pytest.approx(np.mean(row["run_scores"]))
        assert all(0.0 <= s <= 1.0 for s in row["run_scores"]) and len(row["run_scores"]) == RUNS
    assert record["quality"] == {"tcav_p_values": {"cat_photos": cat.p_value, "dog_photos": dog.p_value},
                                 "significant": ["cat_photos"], "n_class_images": 11, "runs": RUNS}
    assert planted_result.target == "cat" and planted_result.kind == "concepts"
    assert len(record["random_subsets"]) == RUNS + 1 and all(len(s) == 6 for s in record["random_subsets"])
    assert len({tuple(s) for s in record["random_subsets"]}) == RUNS + 1
    assert [Path(p).name for p in cat.exemplars] == [p.name for p in _photos("cat")[:2]]
    json.dumps(record, allow_nan=False)  # JSON-safe as exported


def test_cav_accuracy_is_measured_on_held_out_images():
    """Two well separated clouds: every held-out point is classified right (Captum 0.9's own figure would be the
    first concept's share of the test split, about one half)."""
    torch.manual_seed(0)
    random.seed(0)
    x = torch.cat([torch.randn(30, 5) + 3, torch.randn(30, 5) - 3])
    y = torch.tensor([0] * 30 + [1] * 30)
    stats_ = CavClassifier().train_and_eval(DataLoader(TensorDataset(x, y), batch_size=60))
    assert float(stats_["accs"]) == 1.0


def test_the_demo_concept_folder_is_valid_and_shares_no_image_with_the_demo_stimuli():
    stimuli = [file_sha256(f) for f in sorted(STIMULI.glob("*/*.jpg"))]
    assert len(stimuli) == 12
    assert validate_concepts(DEMO_CONCEPTS, stimuli_sha256=stimuli) == []
    assert read_concepts(DEMO_CONCEPTS).names == ("long_fur", "short_fur")


def test_cache_hit_is_identical_and_a_changed_concept_file_changes_the_key(checkpoint, planted, tmp_path):
    pool = read_pool(planted / "pool", checkpoint.class_names)
    concepts = read_concepts(planted / "concepts")
    first = concept_scores(checkpoint, concepts, pool, 0, cache_dir=tmp_path / "c", runs=2, max_images=5)
    again = concept_scores(checkpoint, concepts, pool, 0, cache_dir=tmp_path / "c", runs=2, max_images=5)
    assert not first.from_cache and again.from_cache
    assert again.concepts == first.concepts and again.record == first.record and again.key == first.key
    assert not list((tmp_path / "c" / "concepts" / "work").iterdir())  # Captum's CAV folder is removed
    # recomputed in a fresh cache: the same numbers (seeded subsets, classifier and shuffle)
    fresh = concept_scores(checkpoint, concepts, pool, 0, cache_dir=tmp_path / "d", runs=2, max_images=5)
    assert fresh.concepts == first.concepts and fresh.record["concepts"] == first.record["concepts"]
    edited = tmp_path / "edited"
    shutil.copytree(planted / "concepts", edited)
    shutil.copy(_photos("cat")[7], edited / "cat_photos" / _photos("cat")[0].name)  # same name, other photo
    changed = read_concepts(edited)
    assert changed.sha256 != concepts.sha256
    other = concept_scores(checkpoint, changed, pool, 0, cache_dir=tmp_path / "c", runs=2, max_images=5)
    assert not other.from_cache and other.key != first.key


def test_global_random_generators_are_restored(checkpoint, planted, tmp_path):
    pool = read_pool(planted / "pool", checkpoint.class_names)
    random.seed(123)
    np.random.seed(123)
    expected = random.random(), np.random.random()
    random.seed(123)
    np.random.seed(123)
    concept_scores(checkpoint, planted / "concepts", pool, 0, cache_dir=tmp_path, runs=2, max_images=5)
    assert (random.random(), np.random.random()) == expected


@pytest.mark.parametrize("params, field", [
    ({"layer": "nope"}, "layer"), ({"runs": 1}, "runs"), ({"runs": True}, "runs"), ({"alpha": 1.5}, "alpha"),
    ({"max_images": 2}, "max_images"), ({"colour": 1}, "colour"), ({"runs": 10_000}, "runs"),
])
def test_bad_parameters_name_the_field(checkpoint, planted, tmp_path, params, field):
    pool = read_pool(planted / "pool", checkpoint.class_names)
    with pytest.raises(ConceptParamError, match=f"^{field}: "):
        concept_scores(checkpoint, planted / "concepts", pool, 0, cache_dir=tmp_path, **params)


def test_a_target_without_pool_images_or_out_of_range_is_refused(checkpoint, planted, tmp_path):
    only_cats = tmp_path / "pool"
    _copy(sorted((STIMULI / "cat").glob("*.jpg")), only_cats / "cat")
    pool = read_pool(only_cats, checkpoint.class_names)
    with pytest.raises(ConceptParamError, match=r"^pool: no image .* 'dog'"):
        concept_scores(checkpoint, planted / "concepts", pool, 1, cache_dir=tmp_path)
    with pytest.raises(ConceptParamError, match="^target: "):
        concept_scores(checkpoint, planted / "concepts", pool, 2, cache_dir=tmp_path)


def _good_set(root: Path) -> Path:
    _copy(_photos("cat")[:MIN_CONCEPT_IMAGES], root / "cats")
    _copy(_photos("dog")[:2 * MIN_CONCEPT_IMAGES], root / "random")
    return root


def test_a_good_concept_folder_has_no_findings_and_reads(tmp_path):
    root = _good_set(tmp_path / "set")
    assert validate_concepts(root) == []
    concepts = read_concepts(root)
    assert concepts.names == ("cats",) and len(concepts.random) == 2 * MIN_CONCEPT_IMAGES


@pytest.mark.parametrize("case, where, problem", [
    ("missing", "set", "is not a folder"),
    ("no concepts", "set", "no concept folders"),
    ("no random", "set", "no random/ folder"),
    ("small concept", "cats", f"has {MIN_CONCEPT_IMAGES - 1} usable images; TCAV needs at least"),
    ("unreadable", "broken.jpg", "not an image file"),
    ("small random", "random", f"needs at least {2 * MIN_CONCEPT_IMAGES}"),
    ("stimulus", "1_cat_", "same image as a stimulus"),
])
def test_each_bad_concept_folder_is_found_and_refused(tmp_path, case, where, problem):
    root = tmp_path / "set"
    stimuli: tuple[str, ...] = ()
    if case != "missing":
        _good_set(root)
    if case == "no concepts":
        shutil.rmtree(root / "cats")
    elif case == "no random":
        shutil.rmtree(root / "random")
    elif case == "small concept":
        sorted((root / "cats").iterdir())[0].unlink()
    elif case == "unreadable":
        (root / "cats" / "broken.jpg").write_bytes(b"not a jpeg at all")
    elif case == "small random":
        sorted((root / "random").iterdir())[0].unlink()
    elif case == "stimulus":
        stimuli = (file_sha256(sorted((root / "cats").iterdir())[1]),)
    findings = validate_concepts(root, stimuli_sha256=stimuli)
    assert len(findings) == 1, findings
    assert Path(findings[0].where).name.startswith(where) and problem in findings[0].problem
    if case != "stimulus":  # overlap with stimuli is the caller's check (read_concepts knows no stimuli)
        with pytest.raises(ConceptSetError, match=problem.split(";")[0]) as err:
            read_concepts(root)
        assert "\n" not in str(err.value)


def test_a_random_folder_too_small_for_the_runs_says_what_is_needed(tmp_path):
    root = _good_set(tmp_path / "set")  # 10 random images: C(10, 5) = 252 different subsets
    assert validate_concepts(root, runs=251) == []
    (finding,) = validate_concepts(root, runs=252)
    assert "too few for 252 runs (253 different random subsets of 5 images)" in finding.problem


def _result(n: int) -> ConceptResult:
    concepts = tuple(ConceptScore(f"c{i}", i / 10, [0.001, 0.5, math.nan, 0.2][i % 4], i % 4 == 0,
                                  (f"/x/c{i}/a.jpg", f"/x/c{i}/b.jpg")) for i in range(n))
    record = {"quality": {"tcav_p_values": {}, "significant": [], "n_class_images": 3, "runs": 10}, "shuffle": None}
    return ConceptResult("concepts", "cat", concepts, record, "ab" * 32)


@pytest.mark.parametrize("n", [2, 3, 5])
def test_shuffled_is_a_seeded_derangement_keeping_names_and_exemplars(n):
    result = _result(n)
    placebo = shuffled(result, "f00d")
    perm = placebo.record["shuffle"]["permutation"]
    assert sorted(perm) == list(range(n)) and all(p != i for i, p in enumerate(perm))
    assert placebo.shuffled and placebo.record["quality"]["permutation"] == perm
    for shown, original in zip(placebo.concepts, result.concepts):
        assert (shown.name, shown.exemplars) == (original.name, original.exemplars)
    for shown, j in zip(placebo.concepts, perm):
        source = result.concepts[j]
        assert shown.score == source.score and shown.significant == source.significant
        assert shown.p_value == source.p_value or (math.isnan(shown.p_value) and math.isnan(source.p_value))
    assert placebo.record["quality"]["significant"] == [c.name for c in placebo.concepts if c.significant]
    assert shuffled(result, "f00d") == placebo
    assert placebo.key != result.key and placebo.record["shuffle"]["unshuffled_key"] == result.key
    assert len({tuple(derangement(5, seed)) for seed in range(20)}) > 1  # the seed matters
    with pytest.raises(ValueError, match="already shuffled"):
        shuffled(placebo, "f00d")


def test_shuffled_real_result_swaps_two_concepts(planted_result):
    placebo = shuffled(planted_result, "image-sha")
    assert [c.name for c in placebo.concepts] == ["cat_photos", "dog_photos"]
    assert placebo.concepts[0].score == planted_result.concepts[1].score
    assert placebo.record["quality"]["significant"] == ["dog_photos"]


def test_shuffled_single_concept_stays_put():
    one = _result(1)
    placebo = shuffled(one, 7)
    assert placebo.concepts == one.concepts and placebo.shuffled and placebo.record["shuffle"]["permutation"] == [0]
