"""``xai-study precompute`` under torchrun: N ranks against 1 on the same maps, side by side.

Run::

    python benchmarks/sharded_precompute.py                    # 2 CPU ranks vs 1, ~4 min on a 2-core CPU
    python benchmarks/sharded_precompute.py --ranks 4 --device cuda --images 16   # a 4-GPU machine

Each run starts from an empty cache and computes LIME and Kernel SHAP (the defaults: sampled until converged)
and Grad-CAM for ``--images`` held-out cat/dog photos with the bundled 128 px model. On the CPU, torchrun
gives each rank an equal share of the cores (``study_app.explain.sharding.limit_cpu_threads``), so on one
machine the ratio shows what splitting the work across processes costs or gains against one process using
every core; across machines or GPUs it is the scaling. Printed: wall time, maps per second, the ratio, and
whether both runs wrote the same maps (the same cache keys; float32 sums differ with a rank's thread count,
so maps may differ in the last bits, and a sampled map whose split-half ρ is near its threshold may stop a
round apart: the least Spearman ρ between the two runs' maps is printed).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from study_app.explain.sanity import rank_correlation

ROOT = Path(__file__).resolve().parents[1]
PHOTOS = ROOT.parent / "shared" / "data" / "catdog" / "test"


def run(ranks: int, images: Path, cache: Path, device: str) -> float:
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--standalone", f"--nproc_per_node={ranks}", "-m", "study_app.cli", "precompute",
           "--checkpoint", str(ROOT / "checkpoints" / "catdog_resnet18"), "--images", str(images),
           "--cache", str(cache), "--methods", "lime", "kernel_shap", "gradcam", "--device", device, "--no-progress"]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def maps(cache: Path) -> dict[str, np.ndarray]:
    out = {}
    for path in cache.glob("??/*.npz"):
        with np.load(path, allow_pickle=False) as data:
            out[path.stem] = np.asarray(data["map"])
    return out


def agreement(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> str:
    """Whether two caches hold the same maps: keys, identical bytes, or the least Spearman ρ between them
    (float32 sums differ with the thread count, and a sampled map's stopping round may then differ)."""
    if set(a) != set(b):
        return f"NO: different maps ({len(set(a) ^ set(b))} keys differ)"
    identical = sum(np.array_equal(a[k], b[k]) for k in a)
    if identical == len(a):
        return "yes, identical"
    worst = min(rank_correlation(a[k], b[k]) for k in a if not np.array_equal(a[k], b[k]))
    return f"same keys; {identical} of {len(a)} identical, the others agree to Spearman ρ ≥ {worst:.3f}"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ranks", type=int, default=2)
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        folder.mkdir()
        photos = sorted(PHOTOS.rglob("*.jpg"))[-args.images:]
        for photo in photos:
            shutil.copy(photo, folder / photo.name)
        n_maps = 3 * len(photos)
        seconds = {}
        for ranks in (1, args.ranks):
            seconds[ranks] = run(ranks, folder, Path(tmp) / f"cache{ranks}", args.device)
        same = agreement(maps(Path(tmp) / "cache1"), maps(Path(tmp) / f"cache{args.ranks}"))
    print(f"{n_maps} maps (LIME, Kernel SHAP, Grad-CAM × {len(photos)} photos) on {args.device}")
    print(f"{'ranks':>6}{'seconds':>10}{'maps/s':>9}")
    for ranks, s in seconds.items():
        print(f"{ranks:>6}{s:>10.1f}{n_maps / s:>9.3f}")
    print(f"{args.ranks} ranks / 1 rank: {seconds[1] / seconds[args.ranks]:.2f}× the speed; "
          f"same maps: {same}")


if __name__ == "__main__":
    main()
