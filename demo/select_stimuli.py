"""Pick the bundled demo's stimuli: a few images the model gets clearly right and some it gets wrong.

    python demo/select_stimuli.py --checkpoint checkpoints/mri_resnet18 --images ../shared/data/mri/test \
        --out demo/stimuli/mri --n 12 --wrong 4

Like the seed study, the set mixes images that are clearly right (high confidence, correct), reasonably
wrong (the model hesitated) and unreasonably wrong (confidently wrong). The choice is deterministic
(seeded) and written to ``<out>/MANIFEST.csv`` with the source file, true label, prediction and
category, so that anyone can see why an image is in the demo.

A decision task's pool (``--decision``) draws each participant's AI-wrong and AI-right trials, all with advice
at least ``min_ai_confidence`` confident (``--min-confidence``). It takes up to ``--wrong`` such wrong images,
drawn at random per true class (errors of every kind, not only the commonest confusion), and fills ``--n`` with
right ones drawn the same way among those above the floor, so that the AI's confidence on the right trials is
what it is on any image, not only the surest:

    python demo/select_stimuli.py --checkpoint checkpoints/mri_decision_resnet18 \
        --images ../shared/data/mri/test --out demo/stimuli/mri-decision --decision --min-confidence 0.55 \
        --n 24 --wrong 12
"""

from __future__ import annotations

import argparse
import csv
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from trainers.checkpoint import load_checkpoint  # noqa: E402
from trainers.data import read_labelled_folder  # noqa: E402
from trainers.images import open_rgb  # noqa: E402
from trainers.predict import predict_topk  # noqa: E402


def _round_robin(rows: list[dict], class_names, n: int) -> list[dict]:
    """Up to ``n`` of ``rows``, one per true class in turn, each class's in the order given."""
    per_class = {c: [r for r in rows if r["true"] == c] for c in class_names}
    chosen: list[dict] = []
    while len(chosen) < n and any(per_class.values()):
        for c in class_names:
            if per_class[c] and len(chosen) < n:
                chosen.append(per_class[c].pop(0))
    return chosen


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="class-per-folder candidates")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--wrong", type=int, default=4, help="how many misclassified images to include")
    p.add_argument("--seed", type=int, default=7)
    p.add_argument("--decision", action="store_true", help="a decision task's pool (see above)")
    p.add_argument("--min-confidence", type=float, default=0.0, help="with --decision: the task's min_ai_confidence")
    a = p.parse_args()

    ck = load_checkpoint(a.checkpoint)
    split = read_labelled_folder(a.images, ck.class_names)
    rows = []
    for path, label in split.samples:
        (pred,) = predict_topk(ck, [open_rgb(path)], k=len(ck.class_names))
        rows.append({"path": path, "true": ck.class_names[label], "pred": pred.label, "prob": pred.prob})
    rng = random.Random(a.seed)
    rng.shuffle(rows)
    floor = a.min_confidence if a.decision else 0.0
    wrong = sorted((r for r in rows if r["pred"] != r["true"] and r["prob"] >= floor), key=lambda r: -r["prob"])
    n_wrong = min(a.wrong, len(wrong))
    if a.decision:  # round-robin over the true classes (at random within each): errors of every kind
        chosen_wrong = _round_robin(wrong, ck.class_names, n_wrong)
    else:  # half confidently wrong ("unreasonably"), half hesitantly wrong ("reasonably")
        chosen_wrong = wrong[: (n_wrong + 1) // 2] + wrong[::-1][: n_wrong // 2]
    for r in chosen_wrong:
        r["category"] = "unreasonably_wrong" if r["prob"] >= 0.8 else "reasonably_wrong"
    right = [r for r in rows if r["pred"] == r["true"] and r["prob"] >= (floor if a.decision else 0.8)]
    chosen_right = _round_robin(right, ck.class_names, a.n - len(chosen_wrong))  # classes balanced, at random
    for r in chosen_right:
        r["category"] = "right" if a.decision and r["prob"] < 0.8 else "clearly_right"
    chosen = chosen_right + chosen_wrong
    for c in ck.class_names:  # replace the images; README.md (licences) and other notes stay
        shutil.rmtree(a.out / c, ignore_errors=True)
    with_manifest = []
    for r in chosen:
        dest = a.out / r["true"] / r["path"].name
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(r["path"], dest)
        with_manifest.append({"file": f"{r['true']}/{r['path'].name}", "source": r["path"].name, "true_label": r["true"],
                              "predicted": r["pred"], "probability": f"{r['prob']:.4f}", "category": r["category"]})
    with open(a.out / "MANIFEST.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(with_manifest[0]))
        w.writeheader()
        w.writerows(sorted(with_manifest, key=lambda r: r["file"]))
    sources = a.images / "SOURCES.csv"  # per-image attribution of the candidates, kept for the chosen ones
    if sources.is_file():
        keep = {r["file"] for r in with_manifest}
        with open(sources, newline="") as fh:
            rows_in = list(csv.DictReader(fh))
        kept = []
        for row in rows_in:  # "file" is "<class>/<name>", or a name beside a "class" column
            name = row["file"] if "/" in row.get("file", "") else f"{row.get('class', '')}/{row.get('file', '')}"
            if name in keep:
                kept.append({"file": name, **{k: v for k, v in row.items() if k not in ("file", "class")}})
        if kept:
            with open(a.out / "SOURCES.csv", "w", newline="") as fh:
                w = csv.DictWriter(fh, fieldnames=list(kept[0]))
                w.writeheader()
                w.writerows(sorted(kept, key=lambda r: r["file"]))
        if len(kept) != len(keep):
            sys.exit(f"{sources} lacks {len(keep) - len(kept)} of the chosen files: attribution incomplete")
    acc = sum(r["pred"] == r["true"] for r in rows) / len(rows)
    above = f" ({len(wrong)} wrong at confidence >= {floor:.2f})" if a.decision else ""
    print(f"{len(rows)} candidates, model accuracy {acc:.3f}{above}; chose {len(chosen_right)} right and "
          f"{len(chosen_wrong)} wrong into {a.out}")


if __name__ == "__main__":
    main()
