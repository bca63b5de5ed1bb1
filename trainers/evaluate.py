"""Evaluate a checkpoint on a labelled folder: accuracy, per-class P/R/F1, confusion matrix, plots.

    xai-study evaluate --checkpoint checkpoints/mri_resnet18 --data ../shared/data/mri --json

``--data`` may be a dataset root with a ``test/`` (or Kaggle ``Testing/``) split, or a class-per-folder
tree. Writes ``confusion_matrix.png`` and ``training_curves.png`` into a new folder,
``runs/evaluate/<checkpoint>-<time>/`` under the working directory, or into ``--report-dir``. It never
writes into the checkpoint: its ``report/`` belongs to the training run that made it (``xai-study train``
writes that one), and a bundled checkpoint is tracked by git.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from trainers import data as D
from trainers.checkpoint import CheckpointError, load_checkpoint
from trainers.predict import eval_transform


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--checkpoint", required=True, type=Path)
    p.add_argument("--data", required=True, type=Path)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--report-dir", type=Path, default=None,
                   help="where to write the PNGs (default: a new folder runs/evaluate/CHECKPOINT-TIME/ here)")
    p.add_argument("--no-plots", action="store_true")
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch-size", type=int, default=64)
    return p


def new_report_dir(checkpoint_dir, base: Path | None = None, now: dt.datetime | None = None) -> Path:
    """A folder that does not exist yet: ``runs/evaluate/<checkpoint name>-<UTC time>[-N]``."""
    base = Path("runs") / "evaluate" if base is None else Path(base)
    stamp = (now or dt.datetime.now(dt.UTC)).strftime("%Y%m%d-%H%M%S")
    name = f"{Path(checkpoint_dir).resolve().name}-{stamp}"
    candidate, n = base / name, 1
    while candidate.exists():
        n += 1
        candidate = base / f"{name}-{n}"
    return candidate


def confusion_matrix(targets: list[int], preds: list[int], k: int) -> list[list[int]]:
    cm = torch.zeros(k, k, dtype=torch.long)
    for t, p in zip(targets, preds):
        cm[t, p] += 1
    return cm.tolist()


def per_class_metrics(cm: list[list[int]], class_names: list[str]) -> dict:
    m = torch.tensor(cm, dtype=torch.float64)
    tp = m.diag()
    support = m.sum(1)
    predicted = m.sum(0)
    out = {}
    for i, name in enumerate(class_names):
        precision = (tp[i] / predicted[i]).item() if predicted[i] > 0 else 0.0
        recall = (tp[i] / support[i]).item() if support[i] > 0 else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
        out[name] = {"precision": precision, "recall": recall, "f1": f1, "support": int(support[i]),
                     "misclassified": int(support[i] - tp[i])}
    return out


def plot_confusion_matrix(cm, class_names, path: Path, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.2 * k + 2.5, 1.2 * k + 2))
    ax.imshow(cm, cmap="Blues")
    peak = max(max(row) for row in cm) or 1
    for i in range(k):
        for j in range(k):
            ax.text(j, i, cm[i][j], ha="center", va="center", color="white" if cm[i][j] > peak / 2 else "black")
    ax.set_xticks(range(k), class_names, rotation=30, ha="right")
    ax.set_yticks(range(k), class_names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or "confusion matrix")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_training_curves(history: list[dict], path: Path, title: str = "") -> bool:
    if not history:
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ep = [h["epoch"] for h in history]
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    a.plot(ep, [h["train_loss"] for h in history], "o-", label="train")
    a.plot(ep, [h["val_loss"] for h in history], "s-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    b.plot(ep, [h["train_acc"] for h in history], "o-", label="train")
    b.plot(ep, [h["val_acc"] for h in history], "s-", label="validation")
    b.set_xlabel("epoch")
    b.set_ylabel("accuracy")
    b.set_ylim(0, 1.01)
    b.legend()
    fig.suptitle(title or "training curves")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return True


def evaluate_checkpoint(checkpoint_dir, data_dir, *, device="cpu", batch_size=64, write_report=True,
                        report_dir=None, progress=False) -> dict:
    """Metrics of ``checkpoint_dir`` on ``data_dir``; with ``write_report``, PNGs into ``report_dir``
    (``None``: the checkpoint's own ``report/``, which only ``xai-study train`` uses, for the checkpoint
    it has just written; the ``evaluate`` command always passes a folder of its own)."""
    ckpt = load_checkpoint(checkpoint_dir, device)
    split = D.read_labelled_folder(data_dir, ckpt.class_names)
    items, skipped = D.decode_all(split, progress=progress)
    D.warn_skipped(skipped)
    if not items:
        raise D.DatasetLayoutError(f"{data_dir}: no readable images to evaluate")
    ds = D.DecodedDataset(items, eval_transform(ckpt.input_size, ckpt.mean, ckpt.std))
    preds, targets = [], []
    with torch.inference_mode():
        for x, y in DataLoader(ds, batch_size):
            preds += ckpt.model(x.to(device)).argmax(1).cpu().tolist()
            targets += y.tolist()
    k = len(ckpt.class_names)
    cm = confusion_matrix(targets, preds, k)
    correct = sum(int(p == t) for p, t in zip(preds, targets))
    report = {
        "checkpoint": str(checkpoint_dir),
        "data": str(split.root),
        "accuracy": correct / len(targets),
        "n": len(targets),
        "class_names": ckpt.class_names,
        "per_class": per_class_metrics(cm, ckpt.class_names),
        "confusion_matrix": cm,
        "misclassified": len(targets) - correct,
        "skipped": skipped,
        "checkpoint_sha256": ckpt.sha256,
        "plots": {},
    }
    if write_report:
        out = Path(report_dir) if report_dir else Path(checkpoint_dir) / "report"
        name = Path(checkpoint_dir).name
        plot_confusion_matrix(cm, ckpt.class_names, out / "confusion_matrix.png",
                              f"{name}: accuracy {report['accuracy']:.1%} (n={report['n']})")
        report["plots"]["confusion_matrix"] = str(out / "confusion_matrix.png")
        if plot_training_curves(ckpt.card.get("history", []), out / "training_curves.png", name):
            report["plots"]["training_curves"] = str(out / "training_curves.png")
    return report


def format_table(report: dict) -> str:
    lines = [f"accuracy {report['accuracy']:.4f} on {report['n']} images ({report['misclassified']} misclassified)",
             "", f"{'class':<16}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>9}{'wrong':>7}"]
    for name, m in report["per_class"].items():
        lines.append(f"{name:<16}{m['precision']:>10.3f}{m['recall']:>10.3f}{m['f1']:>10.3f}{m['support']:>9}{m['misclassified']:>7}")
    lines += ["", "confusion matrix (rows true, columns predicted):"]
    names = report["class_names"]
    lines.append(" " * 16 + "".join(f"{n[:10]:>11}" for n in names))
    for n, row in zip(names, report["confusion_matrix"]):
        lines.append(f"{n:<16}" + "".join(f"{v:>11}" for v in row))
    for kind, path in report["plots"].items():
        lines.append(f"{kind}: {path}")
    return "\n".join(lines)


def run(args) -> int:
    try:
        report = evaluate_checkpoint(args.checkpoint, args.data, device=args.device, batch_size=args.batch_size,
                                     write_report=not args.no_plots,
                                     report_dir=args.report_dir or new_report_dir(args.checkpoint))
    except (CheckpointError, D.DatasetLayoutError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps(report) if args.json else format_table(report))
    return 0


if __name__ == "__main__":
    sys.exit(run(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))
