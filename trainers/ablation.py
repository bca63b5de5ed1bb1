"""The CIFAR-10 seed: the same small network built from plain, residual and concatenating-skip blocks.

    xai-study ablation --data data/cifar10 --epochs 15 --out runs/ablation [--download]

All three variants get identical hyperparameters, seed, data order and augmentation; the table reports
test accuracy, parameter count and the train-minus-validation accuracy gap, and a PNG shows the curves.
``--data`` holds CIFAR-10 as torchvision's ``CIFAR10`` expects it (``cifar-10-batches-py/``); with
``--download`` it is fetched where the network allows. Any class-per-folder tree works as well (images
resized to ``--input-size``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset
from torchvision import datasets
from torchvision.transforms import v2 as T

from trainers import data as D
from trainers.models import BLOCKS, SmallNet, count_parameters
from trainers.progress import progress as progress_bar
from trainers.runtime import one_cycle, resolve_device, seed_everything
from trainers.train import evaluate, train_one_epoch

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)


class CifarUnavailable(RuntimeError):
    pass


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--data", required=True, type=Path, help="CIFAR-10 root (cifar-10-batches-py) or a class-folder tree")
    p.add_argument("--out", type=Path, default=Path("runs/ablation"))
    p.add_argument("--download", action="store_true", help="download CIFAR-10 into --data if missing")
    p.add_argument("--blocks", nargs="+", default=list(BLOCKS), choices=list(BLOCKS))
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--input-size", type=int, default=32)
    p.add_argument("--widths", type=int, nargs=3, default=(32, 64, 128))
    p.add_argument("--limit", type=int, default=0, help="use at most N training images (quick runs)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--no-progress", action="store_true")
    return p


class _Items(Dataset):
    def __init__(self, items, transform):
        self.items, self.transform = items, transform

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        img, y = self.items[i]
        return self.transform(img), y


def load_data(args) -> tuple[Dataset, Dataset, Dataset, list[str]]:
    """(train, val, test, class names): CIFAR-10 if present (or downloadable), else a class-folder tree."""
    size = args.input_size
    train_tf = T.Compose([T.ToImage(), T.Resize((size, size), antialias=True), T.RandomCrop(size, padding=size // 8),
                          T.RandomHorizontalFlip(), T.ToDtype(torch.float32, scale=True), T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    eval_tf = T.Compose([T.ToImage(), T.Resize((size, size), antialias=True), T.ToDtype(torch.float32, scale=True),
                         T.Normalize(CIFAR_MEAN, CIFAR_STD)])
    g = torch.Generator().manual_seed(args.seed)
    if (args.data / "cifar-10-batches-py").is_dir() or args.download:
        try:
            train_full = datasets.CIFAR10(args.data, train=True, download=args.download)
            test = datasets.CIFAR10(args.data, train=False, download=args.download)
        except Exception as exc:  # noqa: BLE001 - URLError, integrity errors
            raise CifarUnavailable(
                f"CIFAR-10 could not be read or downloaded into {args.data} ({exc}). Offline? Place the extracted "
                f"cifar-10-batches-py/ folder from https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz there."
            ) from exc
        names = list(train_full.classes)
        items = [(img, int(y)) for img, y in zip(train_full.data, train_full.targets)]
        test_items = [(img, int(y)) for img, y in zip(test.data, test.targets)]
        perm = torch.randperm(len(items), generator=g).tolist()
        n_val = len(items) // 10
        val_items = [items[i] for i in perm[:n_val]]
        train_items = [items[i] for i in perm[n_val:]]
    else:
        spec = D.discover(args.data, 0.15, args.seed)
        train_items, skipped = D.decode_all(spec.train, max_side=size * 2)
        val_items, s2 = D.decode_all(spec.val, max_side=size * 2)
        test_items, s3 = D.decode_all(spec.test, max_side=size * 2) if spec.test else (val_items, [])
        D.warn_skipped(skipped + s2 + s3)
        names = spec.class_names
    if args.limit:
        train_items = train_items[: args.limit]
    return _Items(train_items, train_tf), _Items(val_items, eval_tf), _Items(test_items, eval_tf), names


def train_variant(block: str, args, train_ds, val_ds, test_ds, num_classes: int, device, progress: bool) -> dict:
    seed_everything(args.seed)  # same init stream and data order for every block type
    model = SmallNet(block, num_classes, tuple(args.widths)).to(device)
    g = torch.Generator().manual_seed(args.seed)
    train_dl = DataLoader(train_ds, args.batch_size, shuffle=True, generator=g, num_workers=args.workers, drop_last=False)
    val_dl = DataLoader(val_ds, 256, num_workers=args.workers)
    test_dl = DataLoader(test_ds, 256, num_workers=args.workers)
    criterion = nn.CrossEntropyLoss()
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=args.weight_decay)
    sched = one_cycle(opt, args.lr, args.epochs * max(1, len(train_dl)), pct_start=0.3)  # torch's default share
    history = []
    t0 = time.perf_counter()
    for epoch in range(args.epochs):
        tr = train_one_epoch(model, train_dl, criterion, opt, sched, device, amp=False, channels_last=False,
                             clip_grad=2.0, desc=f"{block} {epoch + 1}/{args.epochs}", progress=progress)
        va = evaluate(model, val_dl, criterion, device)
        history.append({"epoch": epoch + 1, "train_loss": tr["loss"], "train_acc": tr["acc"],
                        "val_loss": va["loss"], "val_acc": va["acc"]})
    te = evaluate(model, test_dl, criterion, device)
    last = history[-1]
    return {"block": block, "test_acc": te["acc"], "val_acc": last["val_acc"], "train_acc": last["train_acc"],
            "gap": last["train_acc"] - last["val_acc"], "params": count_parameters(model),
            "seconds": time.perf_counter() - t0, "history": history}


def plot_curves(results: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in results:
        ep = [h["epoch"] for h in r["history"]]
        line = a.plot(ep, [h["val_loss"] for h in r["history"]], label=f"{r['block']} val")[0]
        a.plot(ep, [h["train_loss"] for h in r["history"]], "--", color=line.get_color(), alpha=0.6)
        b.plot(ep, [h["val_acc"] for h in r["history"]], color=line.get_color(), label=f"{r['block']} val")
        b.plot(ep, [h["train_acc"] for h in r["history"]], "--", color=line.get_color(), alpha=0.6)
    a.set_xlabel("epoch")
    a.set_ylabel("loss (dashed: train)")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy (dashed: train)")
    a.legend()
    b.legend()
    fig.suptitle("plain vs residual vs skip blocks, identical recipe")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def format_table(results: list[dict]) -> str:
    ref = next((r for r in results if r["block"] == "plain"), results[0])
    lines = [f"{'block':<10}{'test acc':>10}{'val acc':>10}{'train-val gap':>15}{'params':>10}{'vs plain':>10}{'seconds':>9}"]
    for r in results:
        lines.append(f"{r['block']:<10}{r['test_acc']:>10.4f}{r['val_acc']:>10.4f}{r['gap']:>15.4f}"
                     f"{r['params']:>10,}{r['test_acc'] - ref['test_acc']:>+10.4f}{r['seconds']:>9.1f}")
    return "\n".join(lines)


def main(args) -> list[dict]:
    device = resolve_device(args.device)
    train_ds, val_ds, test_ds, names = load_data(args)
    progress = not args.no_progress
    results = [train_variant(b, args, train_ds, val_ds, test_ds, len(names), device, progress)
               for b in progress_bar(args.blocks, desc="variants", unit="variant", enabled=progress)]
    args.out.mkdir(parents=True, exist_ok=True)
    plot_curves(results, args.out / "ablation_curves.png")
    (args.out / "ablation.json").write_text(json.dumps(results, indent=2))
    return results


def run(args) -> int:
    try:
        results = main(args)
    except (CifarUnavailable, D.DatasetLayoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([{k: v for k, v in r.items() if k != "history"} for r in results]))
    else:
        print(format_table(results))
        print(f"curves: {args.out / 'ablation_curves.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(run(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))
