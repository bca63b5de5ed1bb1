"""Image folders in, (train, val, test) datasets out.

Layouts understood by :func:`discover`:

* **split folders** – ``train/``, optional ``val/``, optional ``test/`` (also Kaggle's ``Training/`` and
  ``Testing/`` of the Brain Tumor MRI set), each a class-per-folder tree;
* **class per folder** – ``root/<class>/*.jpg``;
* **Kaggle Dogs-vs-Cats flat** – ``root/cat.123.jpg``, ``root/dog.45.jpg`` (also under ``root/train/``).

Class names are normalised so that the MRI sets' spellings agree (``no_tumor`` -> ``notumor``,
``glioma_tumor`` -> ``glioma``...). Where there is no validation split, a stratified one is drawn with a
fixed seed from the training images. Augmentation is applied to the training split only.

Every image is decoded once up front (also resized, so epochs do not pay for JPEG decoding again):
unreadable files are dropped with a single warning that lists them, never a crash mid-epoch.
"""

from __future__ import annotations

import hashlib
import random
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms import v2 as T

from trainers.images import ImageLoadError, is_image_name, open_rgb
from trainers.predict import eval_transform

SPLIT_ALIASES = {
    "train": ("train", "training"),
    "val": ("val", "valid", "validation"),
    "test": ("test", "testing"),
}
# Older SARTAJ spellings -> the names of the combined Kaggle set.
CLASS_ALIASES = {
    "no_tumor": "notumor",
    "no_tumour": "notumor",
    "glioma_tumor": "glioma",
    "meningioma_tumor": "meningioma",
    "pituitary_tumor": "pituitary",
}
_FLAT_NAME = re.compile(r"^(?P<label>[A-Za-z]+)[._-]\d+\.[A-Za-z]+$")


class DatasetLayoutError(ValueError):
    """The folder cannot be read as a labelled image dataset; the message names the folder."""


def normalise_class_name(name: str) -> str:
    key = name.strip().lower().replace(" ", "_").replace("-", "_")
    return CLASS_ALIASES.get(key, name.strip())


@dataclass
class Split:
    """A list of (path, label index) with the class names they index into."""

    samples: list[tuple[Path, int]]
    class_names: list[str]
    root: Path

    def counts(self) -> dict[str, int]:
        c = Counter(label for _, label in self.samples)
        return {name: c.get(i, 0) for i, name in enumerate(self.class_names)}


@dataclass
class DatasetSpec:
    layout: str
    root: Path
    class_names: list[str]
    train: Split
    val: Split | None = None
    test: Split | None = None
    skipped: list[str] = field(default_factory=list)


def _find_child(root: Path, names: tuple[str, ...]) -> Path | None:
    if not root.is_dir():
        return None
    for child in sorted(root.iterdir()):
        if child.is_dir() and child.name.lower() in names:
            return child
    return None


def _class_folders(root: Path) -> dict[str, list[Path]]:
    """``{class: [image paths]}`` for a class-per-folder tree; folders with no image are kept (empty)."""
    out: dict[str, list[Path]] = {}
    for child in sorted(root.iterdir()):
        if not child.is_dir() or child.name.startswith("."):
            continue
        name = normalise_class_name(child.name)
        files = sorted(p for p in child.rglob("*") if p.is_file() and is_image_name(p))
        out.setdefault(name, []).extend(files)
    return out


def _flat_files(root: Path) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for p in sorted(root.iterdir()):
        if p.is_file() and is_image_name(p):
            m = _FLAT_NAME.match(p.name)
            if m:
                out.setdefault(normalise_class_name(m["label"].lower()), []).append(p)
    return out


def _check_classes(by_class: dict[str, list[Path]], where: Path) -> None:
    if len(by_class) < 2:
        found = ", ".join(by_class) or "none"
        raise DatasetLayoutError(
            f"{where}: need at least two classes, found {len(by_class)} ({found}). Expected one folder per "
            "class (e.g. cat/, dog/), train/ and test/ split folders, or flat files named cat.1.jpg, dog.2.jpg."
        )
    for name, files in by_class.items():
        if not files:
            raise DatasetLayoutError(f"{where / name}: class folder '{name}' contains no images")


def _read_tree(root: Path) -> tuple[str, dict[str, list[Path]]]:
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: no such folder")
    flat = _flat_files(root)
    folders = _class_folders(root)
    if len(flat) >= 2 and sum(map(len, flat.values())) >= sum(map(len, folders.values())):
        return "flat", flat
    if not folders and flat:
        _check_classes(flat, root)
    _check_classes(folders, root)
    return "class_folders", folders


def _to_split(by_class: dict[str, list[Path]], class_names: list[str], root: Path) -> Split:
    unknown = sorted(set(by_class) - set(class_names))
    if unknown:
        raise DatasetLayoutError(f"{root}: classes {unknown} are not among the training classes {class_names}")
    samples = [(p, class_names.index(c)) for c in class_names for p in by_class.get(c, [])]
    return Split(samples, class_names, root)


def stratified_split(split: Split, val_fraction: float, seed: int) -> tuple[Split, Split]:
    """Per-class shuffle with ``seed``, then the first ``val_fraction`` of each class goes to validation."""
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    rng = random.Random(seed)
    train, val = [], []
    for label in range(len(split.class_names)):
        items = [s for s in split.samples if s[1] == label]
        rng.shuffle(items)
        n_val = max(1, round(len(items) * val_fraction)) if len(items) > 1 else 0
        val.extend(items[:n_val])
        train.extend(items[n_val:])
    return Split(sorted(train), split.class_names, split.root), Split(sorted(val), split.class_names, split.root)


def discover(root: str | Path, val_fraction: float = 0.15, seed: int = 0) -> DatasetSpec:
    """Work out the layout under ``root`` and return train/val(/test) splits."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetLayoutError(f"{root}: no such folder")
    train_dir = _find_child(root, SPLIT_ALIASES["train"])
    if train_dir is not None:
        layout, train_tree = _read_tree(train_dir)
        layout = f"splits/{layout}"
        class_names = sorted(train_tree)
        train = _to_split(train_tree, class_names, train_dir)
        val_dir = _find_child(root, SPLIT_ALIASES["val"])
        test_dir = _find_child(root, SPLIT_ALIASES["test"])
        val = _to_split(_read_tree(val_dir)[1], class_names, val_dir) if val_dir else None
        test = _to_split(_read_tree(test_dir)[1], class_names, test_dir) if test_dir else None
    else:
        layout, tree = _read_tree(root)
        class_names = sorted(tree)
        train, val, test = _to_split(tree, class_names, root), None, None
    if val is None:
        train, val = stratified_split(train, val_fraction, seed)
    return DatasetSpec(layout, root, class_names, train, val, test)


def read_labelled_folder(root: str | Path, class_names: list[str]) -> Split:
    """An evaluation folder: its ``test/`` split if it has one, else its class folders (or flat files)."""
    root = Path(root)
    test_dir = _find_child(root, SPLIT_ALIASES["test"])
    target = test_dir or root
    return _to_split(_read_tree(target)[1], class_names, target)


def fingerprint(spec: DatasetSpec) -> dict:
    """Identifies the data a model saw: per split, counts and a hash of (relative path, size) pairs."""
    out = {"layout": spec.layout, "root_name": spec.root.name, "class_names": spec.class_names}
    for name in ("train", "val", "test"):
        split = getattr(spec, name)
        if split is None:
            continue
        h = hashlib.sha256()
        for path, label in split.samples:
            rel = path.relative_to(spec.root) if path.is_relative_to(spec.root) else path.name
            h.update(f"{rel}\t{label}\t{path.stat().st_size}\n".encode())
        out[name] = {"n": len(split.samples), "per_class": split.counts(), "sha256": h.hexdigest()}
    return out


def decode_all(split: Split, max_side: int | None = None, progress: bool = False) -> tuple[list, list[str]]:
    """Decode every image once (optionally shrinking the shorter side to ``max_side``).

    Returns ``(items, skipped)`` where items are ``(PIL image, label)`` and skipped lists unreadable files.
    """
    from trainers.progress import progress as progress_bar

    items, skipped = [], []
    for path, label in progress_bar(split.samples, desc=f"decode {split.root.name}", enabled=progress, leave=False,
                                     unit="image"):
        try:
            img = open_rgb(path)
        except ImageLoadError as exc:
            skipped.append(str(exc))
            continue
        if max_side is not None and min(img.size) > max_side:
            img = T.functional.resize(img, max_side, antialias=True)
        items.append((img, label))
    return items, skipped


def warn_skipped(skipped: list[str]) -> None:
    if skipped:
        listing = "\n  ".join(skipped)
        warnings.warn(f"skipped {len(skipped)} unreadable image(s):\n  {listing}", stacklevel=2)


class DecodedDataset(Dataset):
    """In-memory decoded images with a transform; nothing can fail to decode mid-epoch."""

    def __init__(self, items: list[tuple[Image.Image, int]], transform):
        self.items = items
        self.transform = transform

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i):
        img, label = self.items[i]
        return self.transform(img), label

    @property
    def labels(self) -> list[int]:
        return [label for _, label in self.items]


def train_transform(input_size: int, mean, std, augment: str = "standard", min_crop: float = 0.35) -> T.Compose:
    """Training-only augmentation. ``light``: crop + flip (the seed's). ``standard``: random-resized crop,
    flip, small rotation, colour jitter. ``strong``: standard + TrivialAugment + random erasing."""
    if augment == "none":
        return eval_transform(input_size, mean, std)
    ops: list = [T.ToImage()]
    if augment == "light":
        ops += [T.Resize(input_size, antialias=True), T.RandomCrop(input_size, padding=input_size // 16)]
    else:
        ops += [T.RandomResizedCrop(input_size, scale=(min_crop, 1.0), antialias=True)]
    ops += [T.RandomHorizontalFlip()]
    if augment in ("standard", "strong"):
        ops += [T.RandomRotation(10), T.ColorJitter(0.3, 0.3, 0.2)]
    if augment == "strong":
        ops += [T.TrivialAugmentWide()]
    ops += [T.ToDtype(torch.float32, scale=True), T.Normalize(mean=list(mean), std=list(std))]
    if augment == "strong":
        ops += [T.RandomErasing(p=0.25)]
    return T.Compose(ops)


def class_weights(labels: list[int], num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights, mean 1 ("balanced"), for a weighted loss on imbalanced classes."""
    counts = torch.bincount(torch.tensor(labels), minlength=num_classes).float().clamp_min(1)
    w = counts.sum() / (num_classes * counts)
    return w / w.mean()
