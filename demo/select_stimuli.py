"""Pick the bundled demo's stimuli: a few images the model gets clearly right and some it gets wrong.

    python demo/select_stimuli.py --checkpoint checkpoints/mri_resnet18 --images ../shared/data/mri/test \
        --out demo/stimuli/mri --n 12 --wrong 4

Like the seed study, the set mixes images that are clearly right (high confidence, correct), reasonably
wrong (the model hesitated) and unreasonably wrong (confidently wrong). The choice is deterministic
(seeded) and written to ``<out>/MANIFEST.csv`` with the source file, true label, prediction and
category, so that anyone can see why an image is in the demo.
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


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--images", type=Path, required=True, help="class-per-folder candidates")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--n", type=int, default=12)
    p.add_argument("--wrong", type=int, default=4, help="how many misclassified images to include")
    p.add_argument("--seed", type=int, default=7)
    a = p.parse_args()

    ck = load_checkpoint(a.checkpoint)
    split = read_labelled_folder(a.images, ck.class_names)
    rows = []
    for path, label in split.samples:
        (pred,) = predict_topk(ck, [open_rgb(path)], k=len(ck.class_names))
        rows.append({"path": path, "true": ck.class_names[label], "pred": pred.label, "prob": pred.prob})
    rng = random.Random(a.seed)
    rng.shuffle(rows)
    wrong = sorted((r for r in rows if r["pred"] != r["true"]), key=lambda r: -r["prob"])
    # half confidently wrong ("unreasonably"), half hesitantly wrong ("reasonably")
    n_wrong = min(a.wrong, len(wrong))
    chosen_wrong = wrong[: (n_wrong + 1) // 2] + wrong[::-1][: n_wrong // 2]
    for r in chosen_wrong:
        r["category"] = "unreasonably_wrong" if r["prob"] >= 0.8 else "reasonably_wrong"
    right = [r for r in rows if r["pred"] == r["true"] and r["prob"] >= 0.8]
    per_class = {c: [r for r in right if r["true"] == c] for c in ck.class_names}
    chosen_right: list[dict] = []
    while len(chosen_right) < a.n - len(chosen_wrong) and any(per_class.values()):
        for c in ck.class_names:  # round-robin keeps classes balanced
            if per_class[c] and len(chosen_right) < a.n - len(chosen_wrong):
                r = per_class[c].pop(0)
                r["category"] = "clearly_right"
                chosen_right.append(r)
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
    print(f"{len(rows)} candidates, model accuracy {acc:.3f}; chose {len(chosen_right)} right and "
          f"{len(chosen_wrong)} wrong into {a.out}")


if __name__ == "__main__":
    main()
