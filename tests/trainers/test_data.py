import warnings

import numpy as np
import pytest
import torch
from PIL import Image

from tests.trainers.conftest import make_image, write_class_folders
from trainers import data as D


def test_class_per_folder_layout(tmp_path):
    write_class_folders(tmp_path, classes=("cat", "dog", "bird"), n=10)
    spec = D.discover(tmp_path, val_fraction=0.2, seed=0)
    assert spec.layout == "class_folders"
    assert spec.class_names == ["bird", "cat", "dog"]
    assert spec.test is None
    # stratified: 2 of every 10 per class go to validation, none lost, none duplicated
    assert spec.val.counts() == {"bird": 2, "cat": 2, "dog": 2}
    assert spec.train.counts() == {"bird": 8, "cat": 8, "dog": 8}
    assert not {p for p, _ in spec.train.samples} & {p for p, _ in spec.val.samples}


def test_split_is_reproducible_and_seeded(tmp_path):
    write_class_folders(tmp_path, n=20)
    a = D.discover(tmp_path, 0.25, seed=3).val.samples
    b = D.discover(tmp_path, 0.25, seed=3).val.samples
    c = D.discover(tmp_path, 0.25, seed=4).val.samples
    assert a == b
    assert a != c


def test_kaggle_mri_layout_with_sartaj_names(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("Training", 6), ("Testing", 3)):
        for cls in ("glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"):
            (tmp_path / split / cls).mkdir(parents=True)
            for i in range(n):
                make_image("cat", rng, mode="L").save(tmp_path / split / cls / f"{i}.jpg")
    spec = D.discover(tmp_path, 0.34, seed=0)
    assert spec.layout == "splits/class_folders"
    assert spec.class_names == ["glioma", "meningioma", "notumor", "pituitary"]
    assert spec.test.counts() == {c: 3 for c in spec.class_names}
    assert sum(spec.train.counts().values()) + sum(spec.val.counts().values()) == 24


def test_modern_and_old_mri_names_agree():
    assert D.normalise_class_name("no_tumor") == "notumor"
    assert D.normalise_class_name("notumor") == "notumor"
    assert D.normalise_class_name("Pituitary_Tumor") == "pituitary"


def test_kaggle_dogs_vs_cats_flat_layout(tmp_path):
    rng = np.random.default_rng(0)
    for i in range(6):
        make_image("cat", rng).save(tmp_path / f"cat.{i}.jpg")
        make_image("dog", rng).save(tmp_path / f"dog.{i + 100}.jpg")
    spec = D.discover(tmp_path, 0.34, seed=0)
    assert spec.layout == "flat"
    assert spec.class_names == ["cat", "dog"]
    assert spec.train.counts() == {"cat": 4, "dog": 4}
    labels = {p.name.split(".")[0]: y for p, y in spec.train.samples + spec.val.samples}
    assert labels == {"cat": 0, "dog": 1}


def test_flat_layout_under_train_folder(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "train").mkdir()
    for i in range(4):
        make_image("cat", rng).save(tmp_path / "train" / f"cat.{i}.jpg")
        make_image("dog", rng).save(tmp_path / "train" / f"dog.{i}.jpg")
    assert D.discover(tmp_path, 0.25).layout == "splits/flat"


def test_empty_class_is_an_error_naming_the_folder(tmp_path):
    write_class_folders(tmp_path, classes=("cat",), n=3)
    (tmp_path / "dog").mkdir()
    with pytest.raises(D.DatasetLayoutError, match=r"dog.*contains no images"):
        D.discover(tmp_path)


def test_fewer_than_two_classes_is_an_error(tmp_path):
    write_class_folders(tmp_path, classes=("cat",), n=3)
    with pytest.raises(D.DatasetLayoutError, match=f"{tmp_path}.*at least two classes"):
        D.discover(tmp_path)


def test_missing_folder_is_an_error(tmp_path):
    with pytest.raises(D.DatasetLayoutError, match="no such folder"):
        D.discover(tmp_path / "nope")


def test_test_split_with_unknown_class_is_an_error(tmp_path):
    write_class_folders(tmp_path / "train", n=4)
    write_class_folders(tmp_path / "test", classes=("cat", "bird"), n=2)
    with pytest.raises(D.DatasetLayoutError, match="bird"):
        D.discover(tmp_path)


def test_corrupt_images_are_skipped_with_one_warning(tmp_path):
    write_class_folders(tmp_path, n=5)
    (tmp_path / "cat" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (tmp_path / "dog" / "empty.png").write_bytes(b"")
    good = tmp_path / "dog" / "dog_000.jpg"
    good.write_bytes(good.read_bytes()[:200])  # truncated mid-stream
    spec = D.discover(tmp_path, 0.2)
    items, skipped = D.decode_all(spec.train)
    items_v, skipped_v = D.decode_all(spec.val)
    assert len(items) + len(items_v) == 9  # 12 files, 3 of them bad
    all_skipped = skipped + skipped_v
    assert len(all_skipped) == 3
    assert any("broken.jpg" in s for s in all_skipped)
    assert any("empty.png" in s for s in all_skipped)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        D.warn_skipped(all_skipped)
    assert len(caught) == 1
    assert "broken.jpg" in str(caught[0].message) and "empty.png" in str(caught[0].message)


def test_grayscale_and_rgba_become_three_channels(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    make_image("cat", rng, mode="L").save(tmp_path / "a" / "gray.png")
    make_image("dog", rng, mode="RGBA").save(tmp_path / "b" / "rgba.png")
    spec = D.discover(tmp_path, 0.5)
    items, _ = D.decode_all(spec.train)
    items += D.decode_all(spec.val)[0]
    tf = D.train_transform(32, (0.5,) * 3, (0.5,) * 3, "standard")
    for img, _ in items:
        assert img.mode == "RGB"
        assert tf(img).shape == (3, 32, 32)


def test_augmentation_only_on_training_split(easy_dataset):
    from trainers.predict import eval_transform

    img = Image.open(next((easy_dataset / "train" / "cat").iterdir())).convert("RGB")
    ev = eval_transform(32, (0.5,) * 3, (0.5,) * 3)
    tr = D.train_transform(32, (0.5,) * 3, (0.5,) * 3, "standard")
    assert torch.equal(ev(img), ev(img))  # deterministic
    torch.manual_seed(0)
    assert not torch.equal(tr(img), tr(img))  # random


def test_balanced_class_weights_favour_the_rare_class():
    w = D.class_weights([0] * 60 + [1] * 60 + [2] * 30, 3)
    assert w[2] > w[0] == w[1]
    assert torch.isclose(w.mean(), torch.tensor(1.0))
