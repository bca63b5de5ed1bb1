"""Training throughput: our loop against a plain reference loop (same model, batch size, images, crop size).

    python benchmarks/train_throughput.py [--data ../shared/data/catdog/train] [--images 256] [--size 128]

Reference: torchvision ImageFolder decoding JPEGs from disk every epoch, Resize+RandomCrop+flip, plain
Adam step (the seed's recipe). Ours: trainers.train's loop (images decoded once into memory, AdamW +
OneCycle + gradient clipping, channels_last where it helps, DataLoader workers). Both run an untimed
warm-up epoch first, then the timed epochs. Without --data, a synthetic folder is generated.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Subset
from torchvision import datasets
from torchvision import transforms as TV

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainers import data as D  # noqa: E402
from trainers.models import IMAGENET_MEAN, IMAGENET_STD, build_resnet  # noqa: E402
from trainers.train import build_optimizer, train_one_epoch  # noqa: E402


def synthetic_folder(root: Path, n: int) -> Path:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.trainers.conftest import write_class_folders

    return write_class_folders(root, n=n // 2, size=256)


def reference_epochs(folder: Path, idx: list[int], size: int, batch: int, epochs: int, workers: int) -> float:
    tf = TV.Compose(
        [
            TV.Resize(size),
            TV.RandomCrop(size),
            TV.RandomHorizontalFlip(),
            TV.ToTensor(),
            TV.Normalize(IMAGENET_MEAN, IMAGENET_STD),
        ]
    )
    ds = Subset(datasets.ImageFolder(folder, transform=tf, loader=lambda p: D.open_rgb(p)), idx)
    dl = DataLoader(ds, batch, shuffle=True, num_workers=workers, drop_last=True)
    torch.manual_seed(0)
    model = build_resnet("resnet18", 2)
    opt = torch.optim.Adam(model.parameters(), 1e-3)
    crit = nn.CrossEntropyLoss()
    seen = 0
    for epoch in range(epochs + 1):
        if epoch == 1:
            t0, seen = time.perf_counter(), 0
        model.train()
        for x, y in dl:
            loss = crit(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            seen += len(y)
    return seen / (time.perf_counter() - t0)


def our_epochs(
    folder: Path, idx: list[int], size: int, batch: int, epochs: int, workers: int, channels_last: bool
) -> float:
    spec = D.discover(folder, 0.5, 0)
    samples = sorted(spec.train.samples + spec.val.samples)
    split = D.Split([samples[i] for i in idx], spec.class_names, folder)
    items, _ = D.decode_all(split, max_side=math.ceil(size * 1.15))
    ds = D.DecodedDataset(items, D.train_transform(size, IMAGENET_MEAN, IMAGENET_STD, "light"))
    dl = DataLoader(
        ds, batch, shuffle=True, num_workers=workers, drop_last=True, persistent_workers=workers > 0
    )
    torch.manual_seed(0)
    model = build_resnet("resnet18", 2)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    args = argparse.Namespace(weight_decay=0.05, optimizer="adamw", lr=1e-3)
    opt = build_optimizer(args, model)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=(epochs + 1) * len(dl))
    crit = nn.CrossEntropyLoss()
    dev = torch.device("cpu")
    for epoch in range(epochs + 1):
        if epoch == 1:
            t0 = time.perf_counter()
        train_one_epoch(
            model,
            dl,
            crit,
            opt,
            sched,
            dev,
            amp=False,
            channels_last=channels_last,
            clip_grad=2.0,
            desc="",
            progress=False,
        )
    return epochs * len(dl) * batch / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", type=Path, default=None, help="a class-per-folder tree (default: synthetic)")
    p.add_argument("--images", type=int, default=256)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--workers", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        folder = a.data or synthetic_folder(Path(tmp) / "synth", a.images)
        n_total = len(datasets.ImageFolder(folder, loader=lambda p: None).samples)
        idx = sorted(random.Random(0).sample(range(n_total), min(a.images, n_total)))
        ref = reference_epochs(folder, idx, a.size, a.batch, a.epochs, a.workers)
        ours = our_epochs(folder, idx, a.size, a.batch, a.epochs, a.workers, channels_last=False)
        ours_cl = our_epochs(folder, idx, a.size, a.batch, a.epochs, a.workers, channels_last=True)
    print(
        f"ResNet18 training, {len(idx)} images, {a.size}px, batch {a.batch}, {a.epochs} timed epochs, "
        f"{torch.get_num_threads()} threads, device cpu"
    )
    print(f"{'loop':<34}{'images/s':>10}{'ratio':>8}")
    print(f"{'reference (ImageFolder, Adam)':<34}{ref:>10.1f}{1.0:>8.2f}")
    print(f"{'ours (decoded once, AdamW+1cycle)':<34}{ours:>10.1f}{ours / ref:>8.2f}")
    print(f"{'ours + channels_last':<34}{ours_cl:>10.1f}{ours_cl / ref:>8.2f}")


if __name__ == "__main__":
    main()
