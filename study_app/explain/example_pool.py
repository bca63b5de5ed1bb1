"""Example pools: a folder of labelled images that example-based explanations draw from.

A pool is read exactly as a stimuli folder is (one sub-folder per class, the folder name is the true
label, image files directly inside it, hidden folders skipped). Its identity in cache keys is the hash
of every file's (relative path, label, content SHA-256), so editing, adding, removing or renaming a
file gives a new key. :func:`validate_pool` returns every problem as data (for ``check``);
:func:`read_pool` refuses an unusable pool with the first problem as a one-line message.

The pool's penultimate-layer features are computed once per (checkpoint, pool, layer, input geometry)
by Captum's activation store (``captum._utils.av.AV``, which :class:`captum.influence.SimilarityInfluence`
reads back with ``load_src_from_disk=True``); the model's prediction for each pool image is stored beside
them in ``pool.json``, which is written last and so marks a complete entry.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from captum._utils.av import AV  # the activation store SimilarityInfluence reads back (identifier "src")
from torch.utils.data import DataLoader, Dataset

from study_app.explain.cache import cache_key
from trainers.checkpoint import LoadedCheckpoint
from trainers.images import class_folders, image_files, open_rgb, usable_image
from trainers.predict import predict_topk, preprocess

POOL_FORMAT_VERSION = 1
PREDICT_BATCH = 32
POOL_MARKER = "pool.json"


class ExamplePoolError(ValueError):
    """An example pool cannot be used; the message names the folder, file or class and the reason."""


@dataclass(frozen=True)
class PoolImage:
    """One image of a pool: ``rel`` is ``<class folder>/<file name>``, ``label`` the class folder's name."""

    path: Path
    rel: str
    label: str
    sha256: str


@dataclass(frozen=True)
class Pool:
    root: Path
    images: tuple[PoolImage, ...]

    @property
    def sha256(self) -> str:
        """Hash of every (relative path, label, content hash): the pool's identity in cache keys."""
        rows = [[im.rel, im.label, im.sha256] for im in self.images]
        return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()

    def __len__(self) -> int:
        return len(self.images)


@dataclass(frozen=True)
class PoolFinding:
    """One problem with a pool: ``where`` is the file, class folder or pool folder it concerns."""

    where: str
    problem: str

    def __str__(self) -> str:
        return f"{self.where}: {self.problem}"


def validate_pool(
    root: str | Path,
    class_names: Iterable[str],
    k: int | None = None,
    stimuli_sha256: Iterable[str] = (),
    decode: bool = True,
) -> list[PoolFinding]:
    """Every problem of the pool at ``root`` for a model with ``class_names``, in folder order.

    Reported: a missing folder or one without class folders; a class folder that is not a class of the
    model; a class folder without images; a file that cannot be read or decoded (``decode=False`` only
    reads bytes); a pool with fewer images than ``k``; an image whose content equals a stimulus (whose
    hashes are ``stimuli_sha256``), which would show participants the image they are judging.
    """
    root = Path(root)
    if not root.is_dir():
        return [PoolFinding(str(root), "example pool is not a folder")]
    classes = set(class_names)
    stimuli = set(stimuli_sha256)
    findings: list[PoolFinding] = []
    dirs = class_folders(root)
    if not dirs:
        return [PoolFinding(str(root), "example pool has no class folders (expected one folder per class)")]
    usable = 0
    for class_dir in dirs:
        if class_dir.name not in classes:
            findings.append(PoolFinding(str(class_dir), f"class {class_dir.name!r} is not a class of the model "
                                                        f"({', '.join(sorted(classes))})"))
        files = image_files(class_dir)
        if not files:
            findings.append(PoolFinding(str(class_dir), f"class {class_dir.name!r} has no images"))
        usable += count_usable(files, decode, stimuli, findings)
    if k is not None and usable < k:
        findings.append(PoolFinding(str(root), f"example pool has {usable} usable images, fewer than k={k}"))
    return findings


OVERLAP = "same image as a stimulus (identical content)"  # the finding for a copy of a stimulus


def count_usable(files: Iterable[Path], decode: bool, stimuli: set[str], findings: list[PoolFinding]) -> int:
    """How many of ``files`` are usable images; a finding is appended for each unusable one and each copy of a
    stimulus (``stimuli``: their content hashes), which still counts as usable."""
    usable = 0
    for file in files:
        digest, reason = usable_image(file, decode)
        if reason is not None:
            findings.append(PoolFinding(str(file), reason))
            continue
        usable += 1
        if digest in stimuli:
            findings.append(PoolFinding(str(file), OVERLAP))
    return usable


def read_pool(root: str | Path, class_names: Iterable[str]) -> Pool:
    """The pool at ``root``; :class:`ExamplePoolError` with the first problem when it is not usable.
    (Overlap with stimuli and the size against k are the caller's checks: see :func:`validate_pool`.)"""
    root = Path(root).resolve()
    return Pool(root, folder_images(root, validate_pool(root, class_names, decode=True), ExamplePoolError))


def folder_images(root: Path, findings: list[PoolFinding], error: type[ValueError]) -> tuple[PoolImage, ...]:
    """Every image of the class (or concept) folders under ``root``, hashed; ``error`` with the first of
    ``findings`` (the folder's check) when there is any."""
    if findings:
        more = f" (and {len(findings) - 1} more problems)" if len(findings) > 1 else ""
        raise error(f"{findings[0]}{more}")
    return tuple(PoolImage(file, f"{d.name}/{file.name}", d.name, hashlib.sha256(file.read_bytes()).hexdigest())
                 for d in class_folders(root) for file in image_files(d))


class PoolDataset(Dataset):
    """The pool's images as normalised model inputs, in pool order (Captum reads it without labels)."""

    def __init__(self, checkpoint: LoadedCheckpoint, pool: Pool):
        self.checkpoint, self.pool = checkpoint, pool
        self.device = next(checkpoint.model.parameters()).device

    def __len__(self) -> int:
        return len(self.pool)

    def __getitem__(self, i: int) -> torch.Tensor:
        return preprocess(self.checkpoint, [open_rgb(self.pool.images[i].path)])[0].to(self.device)


def pool_batch_size(n: int, largest: int = PREDICT_BATCH) -> int:
    """The largest divisor of ``n`` up to ``largest``. SimilarityInfluence (Captum 0.8-0.9) asks every source
    batch for ``min(top_k, batch_size)`` values, so a last batch shorter than that fails; ranking the whole
    pool (``top_k = n``) therefore needs batches that divide the pool evenly."""
    return max(b for b in range(1, min(n, largest) + 1) if n % b == 0)


def features_key(checkpoint: LoadedCheckpoint, pool: Pool, layer: str) -> str:
    """What determines the pool's stored features and predictions."""
    params = {"layer": layer, "input_size": checkpoint.input_size, "mean": list(checkpoint.mean),
              "std": list(checkpoint.std), "v": POOL_FORMAT_VERSION}
    return cache_key(checkpoint.sha256, pool.sha256, "example_pool_features", params)


@dataclass(frozen=True)
class PoolFeatures:
    """Where the pool's activations are stored (``activation_dir``) and each image's prediction."""

    activation_dir: Path
    model_id: str
    predictions: tuple[tuple[str, float], ...]  # (predicted label, confidence), in pool order
    computed: bool  # False when read back from disk


def pool_features(checkpoint: LoadedCheckpoint, pool: Pool, layer: str, cache_dir: Path) -> PoolFeatures:
    """The pool's stored features and predictions, computed on first use (under a temporary folder moved
    into place when complete, so an interrupted run never leaves a partial entry)."""
    key = features_key(checkpoint, pool, layer)
    final = Path(cache_dir) / "example_pools" / key
    model_id = checkpoint.sha256[:16]
    marker = final / POOL_MARKER
    if marker.is_file():
        preds = json.loads(marker.read_text(encoding="utf-8"))["predictions"]
        return PoolFeatures(final, model_id, tuple((p, float(c)) for p, c in preds), computed=False)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=final.parent, prefix=f".{key[:12]}."))
    try:
        dataset = PoolDataset(checkpoint, pool)
        AV.generate_dataset_activations(
            str(tmp), checkpoint.model, model_id, [layer],
            DataLoader(dataset, pool_batch_size(len(pool)), shuffle=False), identifier="src",
        )
        preds: list[tuple[str, float]] = []
        for start in range(0, len(pool), PREDICT_BATCH):
            chunk = pool.images[start:start + PREDICT_BATCH]
            for p in predict_topk(checkpoint, [open_rgb(im.path) for im in chunk], k=1):
                preds.append((p.label, p.prob))
        (tmp / POOL_MARKER).write_text(json.dumps({"key": key, "predictions": preds}), encoding="utf-8")
        try:
            os.replace(tmp, final)
        except OSError:  # another process finished first: its entry is identical
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return PoolFeatures(final, model_id, tuple(preds), computed=True)
