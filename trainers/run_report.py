"""What ``xai-study train`` says before and after the long part: what it found, and what it wrote.

Before: the folder layout it recognised, the classes with their image counts per split, the device and the
CPU threads. After: where the checkpoint went, the epoch it keeps (by validation accuracy) and that epoch's
validation accuracy, and the test accuracy when the data has a test split. Both go to stderr, with the
epoch lines.
"""

from __future__ import annotations

import sys
from collections import Counter

import torch

from trainers.checkpoint import CARD_FILE, WEIGHTS_FILE
from trainers.data import DatasetSpec, Split


def _per_class(split: Split | None) -> Counter:
    return Counter() if split is None else Counter(split.class_names[label] for _, label in split.samples)


def preamble(spec: DatasetSpec, device: torch.device, *, arch: str, epochs: int, input_size: int,
             val_drawn: bool) -> str:
    """The lines printed before training starts."""
    splits = {"train": spec.train, "val": spec.val, "test": spec.test}
    counts = {name: _per_class(split) for name, split in splits.items()}
    sizes = ", ".join(f"{name} {len(split.samples)}" for name, split in splits.items() if split is not None)
    val_note = " (validation drawn from the training images)" if val_drawn else ""
    lines = [f"data: {spec.root} as {spec.layout}; {len(spec.class_names)} classes; {sizes} images{val_note}"]
    for name in spec.class_names:
        lines.append(f"  {name:<20}" + "  ".join(f"{split} {counts[split][name]:>6}"
                                                  for split, s in splits.items() if s is not None))
    threads = f", {torch.get_num_threads()} CPU threads" if device.type == "cpu" else ""
    lines.append(f"training {arch} at {input_size}px for up to {epochs} epochs on {device}{threads}")
    return "\n".join(lines)


def closing(result: dict, out) -> str:
    """The line printed when training ends."""
    if result.get("best_epoch", -1) < 1:
        return f"no epoch finished: nothing written to {out}"
    line = (f"checkpoint written to {out} ({WEIGHTS_FILE} + {CARD_FILE}): epoch {result['best_epoch']} of "
            f"{result['epochs_run']} run, validation accuracy {result['best_val_acc']:.1%}")
    if "test_accuracy" in result:
        line += f", test accuracy {result['test_accuracy']:.1%}"
    return line


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)
