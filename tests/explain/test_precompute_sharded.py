"""Sharded precompute: each process takes a deterministic share of the same map list, and together they write
exactly the cache one process writes (same keys, same maps), each map computed once.

The torchrun test launches two CPU ranks (gloo) on a study with a seeded perturbation method (LIME), a
gradient method, Grad-CAM with its weight-randomised negative control and distinction's two targets per image,
and compares with the cache of an in-process single run. All methods here are deterministic on the CPU for
fixed inputs (LIME and the randomised model are seeded), so the maps must agree to float rounding.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from study.kit import make_checkpoint, make_stimuli, write_study

from study_app.cli import main
from study_app.explain import precompute_cli
from study_app.explain.cache import AttributionCache
from study_app.explain.sharding import Shard, current_shard, parse_shard, take_share

CHEAP = ["--methods", "gradcam", "occlusion", "lime", "--param", "occlusion.window=16", "--param",
         "occlusion.stride=16", "--param", "lime.n_samples=16", "--param", "lime.n_segments=8"]
LIME = '\n[[methods]]\nname = "lime"\nlabel = "LIME"\nparams = { n_samples = 16, n_segments = 8 }\n'


def assert_same_cache(a: Path, b: Path) -> int:
    """Same keys, and every entry's map equal to float rounding; returns the number of entries."""
    ca, cb = AttributionCache(a), AttributionCache(b)
    assert ca.keys() == cb.keys() and ca.keys()
    for key in ca.keys():
        ma, mb = ca.get(key).map_hw, cb.get(key).map_hw
        scale = float(np.abs(ma).max()) or 1.0
        np.testing.assert_allclose(mb, ma, rtol=1e-5, atol=1e-6 * scale, err_msg=key)
    return len(ca.keys())


def test_a_rank_announces_its_share_in_one_write(monkeypatch):
    """Two ranks print to one pipe; a line written in pieces (text, then newline) interleaved with the other
    rank's in CI. One write of the whole line is atomic on a pipe."""
    writes = []

    class Pipe:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", Pipe())
    precompute_cli.announce(Shard(rank=1, world=2, local_rank=1, local_world=2, torchrun=True), 16, 32, "cpu", 1)
    assert writes == ["rank 1/2: 16 of 32 maps on cpu, 1 thread\n"]


# --- the split ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("world", [1, 2, 3, 4, 7, 40])
def test_shares_are_disjoint_cover_everything_keep_order_and_are_balanced_per_method(world):
    jobs = [(image, method) for image in range(13) for method in ("lime", "kernel_shap", "gradcam")]
    shares = [take_share(jobs, rank, world, group=lambda job: job[1]) for rank in range(world)]
    flat = [job for share in shares for job in share]
    assert sorted(flat) == sorted(jobs) and len(flat) == len(jobs)  # union is all, no job twice
    for share in shares:
        assert share == sorted(share, key=jobs.index)  # a rank works in the single run's order
        assert share == take_share(jobs, shares.index(share), world, group=lambda job: job[1])  # deterministic
    sizes = [len(share) for share in shares]
    assert max(sizes) - min(sizes) <= 1
    for method in ("lime", "kernel_shap", "gradcam"):
        per_rank = [sum(job[1] == method for job in share) for share in shares]
        assert max(per_rank) - min(per_rank) <= 1, (method, per_rank)


def test_dealing_per_method_avoids_one_rank_getting_every_slow_map():
    """With as many ranks as methods, a plain stride hands each rank a single method."""
    jobs = [(image, method) for image in range(6) for method in ("lime", "kernel_shap", "gradcam")]
    assert {m for _, m in jobs[0::3]} == {"lime"}  # what jobs[rank::world] would do
    for rank in range(3):
        assert {m for _, m in take_share(jobs, rank, 3, group=lambda job: job[1])} == {"lime", "kernel_shap", "gradcam"}
    assert take_share(jobs, 1, 3) == jobs[1::3]  # without groups it is the plain stride


def test_bad_shards_are_refused():
    with pytest.raises(ValueError):
        take_share([1, 2], 2, 2)
    for text in ("2/2", "1", "a/b", "-1/3", "0/0"):
        with pytest.raises(ValueError, match="expected K/N"):
            parse_shard(text)
    assert parse_shard("3/4") == (3, 4)


def test_the_share_comes_from_torchrun_or_from_shard():
    env = {"WORLD_SIZE": "4", "RANK": "3", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"}
    assert current_shard(env=env) == Shard(rank=3, world=4, local_rank=1, local_world=2, torchrun=True)
    assert current_shard("1/3", env={}) == Shard(rank=1, world=3)
    assert current_shard(None, env={"WORLD_SIZE": "1"}) == Shard()
    with pytest.raises(ValueError, match="under torchrun"):
        current_shard("0/2", env=env)


# --- --shard K/N, in process ----------------------------------------------------------------------------


def test_two_shards_write_the_single_run_cache(tmp_path, checkpoint_dir, image_dir, capsys):
    base = ["precompute", "--checkpoint", str(checkpoint_dir), "--images", str(image_dir), *CHEAP, "--no-progress"]
    assert main([*base, "--cache", str(tmp_path / "single")]) == 0
    assert "9 computed, 0 already cached, 0 failed (9 maps" in capsys.readouterr().out
    shares = []
    for k in (0, 1):
        assert main([*base, "--cache", str(tmp_path / "sharded"), "--shard", f"{k}/2"]) == 0
        out = capsys.readouterr().out
        mine = int(re.search(rf"^shard {k}/2: (\d+) of 9 maps on cpu$", out, re.M).group(1))
        assert f"{mine} computed, 0 already cached" in out  # nothing of the other shard was recomputed
        shares.append(mine)
    assert sorted(shares) == [4, 5]
    assert assert_same_cache(tmp_path / "single", tmp_path / "sharded") == 9


def test_prune_with_shard_or_shard_under_torchrun_is_refused(tmp_path, monkeypatch, capsys):
    assert main(["precompute", "--study", str(tmp_path / "s.toml"), "--prune", "--shard", "0/2"]) == 2
    assert "after every shard finished" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "0")
    assert main(["precompute", "--study", str(tmp_path / "s.toml"), "--shard", "0/2"]) == 2
    assert "--shard is for launchers other than torchrun" in capsys.readouterr().err


# --- torchrun ---------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_torchrun_with_two_cpu_ranks_writes_the_single_process_cache(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("XAI_STUDY_CACHE", raising=False)
    study = write_study(tmp_path, "distinction", checkpoint=make_checkpoint(tmp_path / "ckpt"),
                        stimuli=make_stimuli(tmp_path / "pets", per_class=2), trials=2, checks=0,
                        negative="gradcam", tail=LIME)
    maps = 4 * 4 * 2  # images × (Grad-CAM, IG, LIME, random-model Grad-CAM) × distinction's k=2 targets
    assert main(["precompute", "--study", str(study), "--cache", str(tmp_path / "single"), "--no-progress"]) == 0
    assert f"{maps} computed, 0 already cached ({maps} maps)" in capsys.readouterr().out

    sharded = AttributionCache(tmp_path / "sharded")
    stale = "ab" + "0" * 62  # e.g. a map of a replaced checkpoint: --prune must remove it, after all writes
    sharded.put(stale, np.ones((4, 4), np.float32), {"method": "lime"})
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("XAI_STUDY_CACHE", "OMP_NUM_THREADS")}
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("torchrun")), "--nproc_per_node=2", "--master_addr=127.0.0.1",
         f"--master_port={port}", "-m", "study_app.cli", "precompute", "--study", str(study),
         "--cache", str(sharded.root), "--prune", "--no-progress"],
        capture_output=True, text=True, timeout=240, env=env, cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    out = proc.stdout
    shares = {int(r): int(n) for r, n in re.findall(rf"^rank (\d)/2: (\d+) of {maps} maps on cpu", out, re.M)}
    assert sorted(shares) == [0, 1] and all(shares.values()), out  # each rank reported a non-empty share
    assert sum(shares.values()) == maps
    # Every map computed exactly once over both ranks (overlapping shares would count some twice or as cached),
    # and the summary and the prune come from rank 0 alone.
    assert Counter(re.findall(r"^\d+ computed.*$", out, re.M)) == {
        f"{maps} computed, 0 already cached ({maps} maps) in {sharded.root}": 1}
    assert out.count(f"pruned 1 cached maps the study no longer uses; {maps} kept") == 1
    assert stale not in sharded.keys()
    assert assert_same_cache(tmp_path / "single", sharded.root) == maps
