"""Self-describing checkpoints: one directory per model, one loader for everything.

Layout of a checkpoint directory::

    <dir>/model.pt        state_dict only (tensors), loadable with torch.load(..., weights_only=True)
    <dir>/card.json       model card: arch, head, class names, input size, normalisation, training
                          arguments, dataset fingerprint, per-epoch history, metrics, date
    <dir>/train_state.pt  optional: optimizer/scheduler/epoch for --resume (also weights_only-safe)
    <dir>/report/*.png    optional: confusion matrix, training curves

Weights may be stored as float16 to keep committed models small; they are loaded back as float32.
Nothing here unpickles arbitrary objects: ``torch.load`` always runs with ``weights_only=True``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from trainers.models import IMAGENET_MEAN, IMAGENET_STD, build_resnet, fold_imagenet_to_cat_dog

CARD_VERSION = 1
WEIGHTS_FILE = "model.pt"
CARD_FILE = "card.json"
TRAIN_STATE_FILE = "train_state.pt"
REQUIRED_CARD_KEYS = ("arch", "head", "class_names", "input_size", "mean", "std")


class CheckpointError(ValueError):
    """The path is not a valid, safe xai-study checkpoint."""


@dataclass
class LoadedCheckpoint:
    """A model ready for inference (eval mode, float32) and the card that describes it."""

    model: nn.Module
    card: dict
    path: Path
    sha256: str  # of the weights file: identifies the exact model in caches and exports

    @property
    def class_names(self) -> list[str]:
        return list(self.card["class_names"])

    @property
    def input_size(self) -> int:
        return int(self.card["input_size"])

    @property
    def mean(self) -> tuple[float, float, float]:
        return tuple(self.card["mean"])

    @property
    def std(self) -> tuple[float, float, float]:
        return tuple(self.card["std"])

    @property
    def imagenet_class_names(self) -> list[str] | None:
        """Set for zero-shot (``imagenet_fold``) models, whose backbone still has 1000 ImageNet classes."""
        return self.card.get("imagenet_class_names")


@dataclass
class CardBuilder:
    """Collects what a card needs; ``to_dict`` makes the JSON-safe card."""

    arch: str
    class_names: list[str]
    input_size: int
    head: str = "linear"
    mean: tuple = IMAGENET_MEAN
    std: tuple = IMAGENET_STD
    train_args: dict = field(default_factory=dict)
    dataset: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    notes: str = ""
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        card = {
            "card_version": CARD_VERSION,
            "arch": self.arch,
            "head": self.head,
            "num_classes": len(self.class_names),
            "class_names": list(self.class_names),
            "input_size": int(self.input_size),
            "mean": [float(v) for v in self.mean],
            "std": [float(v) for v in self.std],
            "train_args": _jsonable(self.train_args),
            "dataset": _jsonable(self.dataset),
            "history": _jsonable(self.history),
            "metrics": _jsonable(self.metrics),
            "notes": self.notes,
            "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
            "torch_version": torch.__version__,
        }
        card.update(_jsonable(self.extra))
        return card


def _jsonable(obj):
    """Primitives only: paths become strings, tuples lists, tensors numbers."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, torch.Tensor):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if hasattr(obj, "item"):
        return obj.item()
    return str(obj)


def _atomic_write_bytes(path: Path, write) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        umask = os.umask(0)
        os.umask(umask)
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp's 0600 would make shared checkpoints unreadable to others
        with os.fdopen(fd, "wb") as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_card(directory: str | Path, card: dict) -> None:
    data = json.dumps(card, indent=2, sort_keys=False).encode()
    _atomic_write_bytes(Path(directory) / CARD_FILE, lambda fh: fh.write(data))


def save_checkpoint(
    directory: str | Path,
    model: nn.Module,
    card: dict | CardBuilder,
    *,
    half: bool = False,
    train_state: dict | None = None,
) -> Path:
    """Write weights (optionally float16) and card atomically; returns the directory."""
    directory = Path(directory)
    card = card.to_dict() if isinstance(card, CardBuilder) else dict(card)
    model = getattr(model, "module", model)  # unwrap DDP
    model = getattr(model, "_orig_mod", model)  # unwrap torch.compile
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu()
        if half and v.is_floating_point():
            v = v.half()
        state[k] = v.contiguous()
    card["weights_dtype"] = "float16" if half else "float32"
    _atomic_write_bytes(directory / WEIGHTS_FILE, lambda fh: torch.save(state, fh))
    if train_state is not None:
        _atomic_write_bytes(directory / TRAIN_STATE_FILE, lambda fh: torch.save(train_state, fh))
    write_card(directory, card)
    return directory


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_card(directory: str | Path) -> dict:
    directory = Path(directory)
    card_path = directory / CARD_FILE
    if not directory.is_dir():
        raise CheckpointError(f"{directory}: not a checkpoint directory (expected a folder with {CARD_FILE})")
    if not card_path.is_file():
        raise CheckpointError(f"{directory}: missing {CARD_FILE}; not an xai-study checkpoint")
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{card_path}: not valid JSON ({exc})") from exc
    if not isinstance(card, dict):
        raise CheckpointError(f"{card_path}: expected a JSON object")
    missing = [k for k in REQUIRED_CARD_KEYS if k not in card]
    if missing:
        raise CheckpointError(f"{card_path}: missing field(s) {', '.join(missing)}")
    return card


def safe_torch_load(path: str | Path, what: str = "checkpoint"):
    """``torch.load`` with ``weights_only=True`` and a clear error for unsafe or damaged files."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: {what} file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - UnpicklingError, RuntimeError (zip), EOFError...
        text = str(exc)
        if "weights_only" in text or "Unsupported global" in text or "UnpicklingError" in type(exc).__name__:
            reason = "it contains pickled Python objects, which are refused for safety (weights_only=True)"
        else:
            reason = "it is truncated or not a PyTorch file"
        raise CheckpointError(f"{path}: not a valid {what}: {reason}. ({type(exc).__name__}: {text[:200]})") from exc


def build_model_from_card(card: dict) -> nn.Module:
    head = card["head"]
    if head == "linear":
        return build_resnet(card["arch"], len(card["class_names"]), pretrained="none")
    if head == "imagenet_fold":
        backbone = build_resnet(card["arch"], 1000, pretrained="none")
        return fold_imagenet_to_cat_dog(backbone)
    raise CheckpointError(f"unknown head {head!r} in card")


def load_checkpoint(directory: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """The one loader: validates the card, refuses unsafe pickles, returns an eval-mode float32 model."""
    directory = Path(directory)
    card = read_card(directory)
    state = safe_torch_load(directory / WEIGHTS_FILE, "weights")
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{directory / WEIGHTS_FILE}: expected a state dict of tensors")
    try:
        model = build_model_from_card(card)
    except ValueError as exc:
        raise CheckpointError(f"{directory}: card describes an unknown model: {exc}") from exc
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in state.items()}
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise CheckpointError(f"{directory}: weights do not match the card's architecture: {exc}") from exc
    model.eval().to(device)
    return LoadedCheckpoint(model=model, card=card, path=directory, sha256=file_sha256(directory / WEIGHTS_FILE))
