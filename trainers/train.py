"""Train a ResNet classifier from an image folder and write a self-describing checkpoint.

Example (the bundled MRI model, on this project's sample data)::

    xai-study train --data ../shared/data/mri --out checkpoints/mri_resnet18 --arch resnet18 \
        --pretrained none --input-size 128 --epochs 20 --class-weighting balanced

Multi-GPU: ``torchrun --nproc_per_node=4 -m trainers.train --data ... --out ...`` (DistributedDataParallel;
only rank 0 writes). Skeleton after torchvision's references/classification/train.py.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from trainers import data as D
from trainers.checkpoint import (
    TRAIN_STATE_FILE,
    CardBuilder,
    load_checkpoint,
    read_card,
    safe_torch_load,
    save_checkpoint,
    write_card,
)
from trainers.models import ARCHS, IMAGENET_MEAN, IMAGENET_STD, build_resnet
from trainers.predict import eval_transform
from trainers.progress import progress as progress_bar
from trainers.run_report import closing, preamble, say
from trainers.runtime import all_reduce, init_distributed, one_cycle, resolve_device, seed_everything


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--data", required=True, type=Path, help="dataset root (class folders, train/test splits, or flat cat.1.jpg)")
    p.add_argument("--out", required=True, type=Path, help="checkpoint directory to write")
    p.add_argument("--arch", default="resnet18", choices=ARCHS)
    p.add_argument("--pretrained", default="none", choices=("none", "imagenet"))
    p.add_argument("--weights", type=Path, default=None, help="local ImageNet state dict instead of downloading")
    p.add_argument("--init-from", type=Path, default=None,
                   help="start from this project checkpoint's weights (same architecture and class names), "
                        "e.g. to continue training a bundled model on more data")
    p.add_argument("--input-size", type=int, default=160)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--optimizer", default="adamw", choices=("adamw", "sgd"))
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate of the OneCycle schedule")
    p.add_argument("--weight-decay", type=float, default=0.05)
    p.add_argument("--label-smoothing", type=float, default=0.0)
    p.add_argument("--clip-grad", type=float, default=2.0, help="max gradient norm (0 = off)")
    p.add_argument("--augment", default="standard", choices=("none", "light", "standard", "strong"))
    p.add_argument("--min-crop", type=float, default=0.35, help="smallest area fraction of RandomResizedCrop")
    p.add_argument("--mix", type=float, default=0.0,
                   help="probability of applying CutMix or MixUp to a training batch (0 = off)")
    p.add_argument("--ema", type=float, default=0.0,
                   help="keep an exponential moving average of the weights with this decay per step (e.g. 0.995); "
                        "validation and the saved checkpoint then use the averaged model (0 = off)")
    p.add_argument("--class-weighting", default="none", choices=("none", "balanced"))
    p.add_argument("--val-fraction", type=float, default=0.15)
    p.add_argument("--patience", type=int, default=0, help="early stopping: epochs without a gain in val accuracy (0 = off)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    p.add_argument("--amp", default="auto", choices=("auto", "on", "off"), help="mixed precision (auto = on CUDA)")
    p.add_argument("--channels-last", default="auto", choices=("auto", "on", "off"),
                   help="channels-last tensors (auto = on CUDA and CPU: 1.32x on a 2-core CPU, benchmarks/train_throughput.py)")
    p.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    p.add_argument("--limit-per-class", type=int, default=0, help="use at most N training images per class (quick runs)")
    p.add_argument("--resume", action="store_true", help="continue from --out's train_state.pt")
    p.add_argument("--half", action="store_true", help="store weights as float16 (half the size; loaded as float32)")
    p.add_argument("--no-progress", action="store_true")
    return p


def get_args_parser() -> argparse.ArgumentParser:
    return add_arguments(argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter))


# --- one epoch ------------------------------------------------------------------------------------


def make_batch_mixer(num_classes: int, probability: float):
    """CutMix or MixUp (torchvision's) on a fraction of batches; returns soft targets."""
    if probability <= 0:
        return None
    from torchvision.transforms import v2

    mix = v2.RandomChoice([v2.CutMix(num_classes=num_classes), v2.MixUp(num_classes=num_classes, alpha=0.2)])

    def mixer(x, y):
        if torch.rand(()) < probability:
            return mix(x, y)
        return x, torch.nn.functional.one_hot(y, num_classes).float()

    return mixer


def better_epoch(acc: float, loss: float, best_acc: float, best_loss: float) -> bool:
    """Higher validation accuracy, or the same at a lower loss (a few hundred images tie often)."""
    return acc > best_acc or (acc == best_acc and loss < best_loss)


def train_one_epoch(model, loader, criterion, optimizer, scheduler, device, *, amp, channels_last, clip_grad, desc,
                    progress, mixer=None, ema=None):
    model.train()
    totals = torch.zeros(3, dtype=torch.float64, device=device)  # loss sum, correct, n
    bar = progress_bar(loader, desc=desc, enabled=progress, leave=False, unit="batch")
    for x, y in bar:
        x = x.to(device, non_blocking=True)
        y = y.to(device, non_blocking=True)
        target = y
        if mixer is not None:
            x, target = mixer(x, y)
            y = target.argmax(1)  # accuracy against the dominant label of a mixed image
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=amp):
            out = model(x)
            loss = criterion(out, target)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if clip_grad > 0:
            nn.utils.clip_grad_norm_(model.parameters(), clip_grad)
        optimizer.step()
        scheduler.step()
        if ema is not None:
            ema.update_parameters(model)
        n = y.shape[0]
        totals += torch.tensor([loss.item() * n, (out.argmax(1) == y).sum().item(), n], dtype=torch.float64, device=device)
        bar.set_postfix(loss=f"{totals[0] / totals[2]:.3f}", acc=f"{totals[1] / totals[2]:.3f}")
    totals = all_reduce(totals)
    return {"loss": (totals[0] / totals[2]).item(), "acc": (totals[1] / totals[2]).item()}


@torch.inference_mode()
def evaluate(model, loader, criterion, device, *, channels_last=False, amp=False):
    """Loss, accuracy and the predictions (for confusion matrices) over a loader."""
    model.eval()
    totals = torch.zeros(3, dtype=torch.float64, device=device)
    preds, targets = [], []
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        if channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        with torch.autocast(device.type, enabled=amp):
            out = model(x)
        loss = criterion(out.float(), y)
        p = out.argmax(1)
        totals += torch.tensor([loss.item() * y.shape[0], (p == y).sum().item(), y.shape[0]], dtype=torch.float64, device=device)
        preds.append(p.cpu())
        targets.append(y.cpu())
    totals = all_reduce(totals)
    return {
        "loss": (totals[0] / totals[2]).item(),
        "acc": (totals[1] / totals[2]).item(),
        "preds": torch.cat(preds).tolist() if preds else [],
        "targets": torch.cat(targets).tolist() if targets else [],
    }


# --- main -----------------------------------------------------------------------------------------


def _limit(split: D.Split, per_class: int, seed: int) -> D.Split:
    if per_class <= 0:
        return split
    rng = random.Random(seed)
    keep = []
    for label in range(len(split.class_names)):
        items = [s for s in split.samples if s[1] == label]
        rng.shuffle(items)
        keep += items[:per_class]
    return D.Split(sorted(keep), split.class_names, split.root)


def build_optimizer(args, model):
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    if args.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    return torch.optim.AdamW(groups, lr=args.lr)


def main(args) -> dict:
    """Train, evaluate and write the checkpoint; returns the best validation accuracy, its epoch, the epochs
    run and, with a test split, the test accuracy.

    Longer than the project's 80-line limit on purpose: it follows torchvision's reference training script
    (references/classification/train.py) step by step, so the two can be compared line by line; the parts
    that stand alone (data, model, optimiser, one epoch, evaluation) are helpers already.
    """
    rank, world = init_distributed()
    is_main = rank == 0
    device = resolve_device(args.device)
    amp = device.type == "cuda" if args.amp == "auto" else args.amp == "on"
    channels_last = device.type in ("cuda", "cpu") if args.channels_last == "auto" else args.channels_last == "on"
    progress = is_main and not args.no_progress
    if is_main:
        args.out.mkdir(parents=True, exist_ok=True)
    seed_everything(args.seed + rank)

    spec = D.discover(args.data, args.val_fraction, args.seed)
    spec.train = _limit(spec.train, args.limit_per_class, args.seed)
    if is_main:  # what was found, before the long part
        say(preamble(spec, device, arch=args.arch, epochs=args.epochs, input_size=args.input_size,
                     val_drawn=spec.val.root == spec.train.root))
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    cache_side = math.ceil(args.input_size * 1.15)
    train_items, skipped = D.decode_all(spec.train, cache_side, progress)
    val_items, skipped_val = D.decode_all(spec.val, cache_side, progress)
    D.warn_skipped(skipped + skipped_val)
    if not train_items:
        raise D.DatasetLayoutError(f"{args.data}: no readable training images")
    train_ds = D.DecodedDataset(train_items, D.train_transform(args.input_size, mean, std, args.augment, args.min_crop))
    val_ds = D.DecodedDataset(val_items, eval_transform(args.input_size, mean, std))

    g = torch.Generator().manual_seed(args.seed)
    train_sampler = DistributedSampler(train_ds, seed=args.seed) if world > 1 else None
    val_sampler = DistributedSampler(val_ds, shuffle=False) if world > 1 else None
    loader_kw = {"num_workers": args.workers, "pin_memory": device.type == "cuda", "persistent_workers": args.workers > 0}
    train_dl = DataLoader(train_ds, args.batch_size, shuffle=train_sampler is None, sampler=train_sampler,
                          drop_last=len(train_ds) > args.batch_size, generator=g, **loader_kw)
    val_dl = DataLoader(val_ds, args.batch_size * 2, sampler=val_sampler, **loader_kw)

    model = build_resnet(args.arch, len(spec.class_names), args.pretrained, args.weights)
    init_sha = _init_from_checkpoint(model, args, spec.class_names) if args.init_from else None
    model = model.to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    weights = D.class_weights(train_ds.labels, len(spec.class_names)).to(device) if args.class_weighting == "balanced" else None
    criterion = nn.CrossEntropyLoss(weight=weights, label_smoothing=args.label_smoothing)
    optimizer = build_optimizer(args, model)
    scheduler = one_cycle(optimizer, args.lr, args.epochs * max(1, len(train_dl)), pct_start=0.25)

    start_epoch, best_acc, best_loss, history, best_epoch = 0, -1.0, math.inf, [], -1
    if args.resume:
        state = safe_torch_load(args.out / TRAIN_STATE_FILE, "training state")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        total_steps = scheduler.total_steps
        scheduler.load_state_dict(state["scheduler"])
        scheduler.total_steps = total_steps  # --epochs may have been raised for the resumed run
        start_epoch, best_acc, best_epoch = int(state["epoch"]) + 1, float(state["best_acc"]), int(state["best_epoch"])
        best_loss = float(state.get("best_loss", math.inf))  # states written before the tie-break have none
        history = read_card(args.out).get("history", [])[:start_epoch]
        if is_main:
            print(f"resuming from epoch {start_epoch} (best val acc {best_acc:.4f})", file=sys.stderr)

    ema = None
    if args.ema > 0:
        from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(args.ema), use_buffers=True)
        if args.resume and "ema" in state:
            ema.module.load_state_dict(state["ema"])
    eval_model = ema.module if ema is not None else model

    net = model
    if world > 1:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)

    resolved = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "func"}
    resolved.update(device=str(device), amp=amp, channels_last=channels_last, world_size=world)
    card = CardBuilder(arch=args.arch, class_names=spec.class_names, input_size=args.input_size, mean=mean, std=std,
                       train_args=resolved, dataset=D.fingerprint(spec))
    card.dataset["skipped"] = skipped + skipped_val
    scratch = args.pretrained == "none" and not args.weights and init_sha is None
    start = ("from scratch (random initialisation, no ImageNet weights)" if scratch
             else f"from the checkpoint {args.init_from} (weights SHA-256 {init_sha[:12]})" if init_sha
             else "from ImageNet weights")
    card.notes = (
        f"{args.arch} trained {start} "
        f"on {len(train_items)} training images at {args.input_size}px ({len(val_items)} held out for validation) "
        f"by `xai-study train`."
        + (" A small sample trained on a CPU: expect weaker features than an ImageNet-pretrained model. Where the "
           "weights can be downloaded, rerun with `--pretrained imagenet` (or `--weights FILE`) for a stronger model."
           if scratch else "")
    )

    mixer = make_batch_mixer(len(spec.class_names), args.mix)
    epochs_without_gain = 0
    for epoch in range(start_epoch, args.epochs):
        if train_sampler is not None:
            train_sampler.set_epoch(epoch)
        t0 = time.perf_counter()
        tr = train_one_epoch(net, train_dl, criterion, optimizer, scheduler, device, amp=amp,
                             channels_last=channels_last, clip_grad=args.clip_grad,
                             desc=f"epoch {epoch + 1}/{args.epochs}", progress=progress, mixer=mixer, ema=ema)
        seconds = time.perf_counter() - t0
        va = evaluate(eval_model, val_dl, criterion, device, channels_last=channels_last, amp=amp)
        row = {"epoch": epoch + 1, "train_loss": tr["loss"], "train_acc": tr["acc"], "val_loss": va["loss"],
               "val_acc": va["acc"], "lr": scheduler.get_last_lr()[0], "seconds": round(seconds, 2),
               "images_per_s": round(len(train_ds) / seconds, 2)}
        history.append(row)
        gained = va["acc"] > best_acc
        improved = better_epoch(va["acc"], va["loss"], best_acc, best_loss)
        if improved:
            best_acc, best_loss, best_epoch = va["acc"], va["loss"], epoch + 1
        epochs_without_gain = 0 if gained else epochs_without_gain + 1
        if is_main:
            print(f"epoch {epoch + 1:3d}  train loss {tr['loss']:.4f} acc {tr['acc']:.4f}  "
                  f"val loss {va['loss']:.4f} acc {va['acc']:.4f}  {row['images_per_s']:.1f} img/s"
                  f"{'  *best*' if improved else ''}", file=sys.stderr, flush=True)
            card.history = history
            card.metrics = {"best_val_acc": best_acc, "best_epoch": best_epoch}
            if improved:
                save_checkpoint(args.out, eval_model, card, half=args.half)
            train_state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                           "scheduler": scheduler.state_dict(), "epoch": epoch, "best_acc": best_acc,
                           "best_loss": best_loss, "best_epoch": best_epoch}
            if ema is not None:
                train_state["ema"] = ema.module.state_dict()
            torch.save(train_state, args.out / TRAIN_STATE_FILE)
            if not improved:  # keep the card's history current without touching the best weights
                current = read_card(args.out)
                current["history"], current["metrics"] = history, card.metrics
                write_card(args.out, current)
        if args.patience and epochs_without_gain >= args.patience:
            if is_main:
                print(f"early stopping: no val accuracy gain for {args.patience} epochs", file=sys.stderr)
            break

    result = {"best_val_acc": best_acc, "best_epoch": best_epoch, "epochs_run": len(history)}
    if is_main and spec.test is not None:
        from trainers.evaluate import evaluate_checkpoint

        report = evaluate_checkpoint(args.out, args.data, device=str(device), write_report=True, progress=progress)
        current = read_card(args.out)
        current["metrics"]["test"] = {k: report[k] for k in ("accuracy", "n", "per_class", "confusion_matrix")}
        write_card(args.out, current)
        result["test_accuracy"] = report["accuracy"]
        print(f"test accuracy {report['accuracy']:.4f} on {report['n']} images", file=sys.stderr)
    if dist.is_initialized():
        dist.destroy_process_group()
    if is_main:
        say(closing(result, args.out))
    return result


def _init_from_checkpoint(model: nn.Module, args, class_names: list[str]) -> str:
    """Copy a project checkpoint's weights into ``model``; refuse one of another shape or class list."""
    if args.resume:
        raise ValueError("--init-from starts a new run; --resume continues one: give only one of them")
    source = load_checkpoint(args.init_from)
    if source.card.get("arch") != args.arch:
        raise ValueError(f"--init-from {args.init_from}: its architecture is {source.card.get('arch')!r}, "
                         f"this run's --arch is {args.arch!r}")
    if list(source.card.get("class_names", [])) != list(class_names):
        raise ValueError(f"--init-from {args.init_from}: its classes {source.card.get('class_names')} differ "
                         f"from the data's {class_names}")
    model.load_state_dict(source.model.state_dict())
    return source.sha256


def run(args) -> int:
    from trainers.images import ImageLoadError
    from trainers.models import PretrainedWeightsUnavailable

    try:
        main(args)
    except (D.DatasetLayoutError, PretrainedWeightsUnavailable, ImageLoadError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(run(get_args_parser().parse_args()))
