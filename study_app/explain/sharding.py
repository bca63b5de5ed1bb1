"""Split precompute's maps between processes: torchrun ranks, or ``--shard K/N`` for other launchers.

Every process builds the same full, ordered job list and keeps its own share of it, so deciding who
computes what needs no communication: it works under torchrun, in a slurm array, or on machines that
only share the cache folder. Correctness does not rest on the split either: the cache writes each entry
atomically (temporary file + ``os.replace``), so two processes writing one folder can at worst both
compute a map, never leave a torn entry. The split is about not wasting hours.

The share is dealt per method rather than as a plain ``jobs[rank::world]``: the job list cycles through
the methods (image 1 × LIME, Grad-CAM, ...; image 2 × ...), so with as many ranks as methods the plain
stride hands one rank every LIME map and another every Grad-CAM map, and they finish hours apart.
Dealing each method's jobs in turn, continuing the deal where the previous method stopped, keeps every
rank within one job of every other, per method and in total.

Under torchrun the ranks also join a small gloo process group, used once at the end to wait for all of
them and collect their counts (so rank 0 prints one summary and runs ``--prune`` after every write).
It is gloo even on GPU machines: only a few numbers travel, gloo ships with every torch build, and its
timeout is set long, because ranks that finish early wait at that barrier for the slowest one, which
with LIME on a large study can take far longer than torch's default 30 minutes (``trainers.train``'s
``init_distributed`` uses the default timeout and nccl, right for training steps, wrong for this wait).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

from trainers.runtime import resolve_device

T = TypeVar("T")

BARRIER_TIMEOUT = dt.timedelta(days=7)  # how long a finished rank waits for the slowest one


@dataclass(frozen=True)
class Shard:
    """Which share of the jobs this process computes; ``rank``/``world`` number shards from 0."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1
    torchrun: bool = False  # launched by torchrun (a process group can join the ranks)

    @property
    def active(self) -> bool:
        return self.world > 1

    @property
    def reports(self) -> bool:
        """Whether this process prints the run's summary: rank 0 under torchrun, every ``--shard`` process
        (those run independently, so each reports its own share)."""
        return self.rank == 0 or not self.torchrun

    @property
    def label(self) -> str:
        return f"{'rank' if self.torchrun else 'shard'} {self.rank}/{self.world}"


def parse_shard(text: str) -> tuple[int, int]:
    """``"K/N"`` → ``(K, N)`` with ``0 <= K < N`` (shards are numbered from 0, like torchrun ranks)."""
    k, sep, n = text.partition("/")
    try:
        rank, world = int(k), int(n)
    except ValueError:
        rank = world = -1
    if not sep or world < 1 or not 0 <= rank < world:
        raise ValueError(f"--shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4 ... 3/4 (numbered from 0)")
    return rank, world


def current_shard(explicit: str | None = None, env: Mapping[str, str] | None = None) -> Shard:
    """This process's share: from torchrun's environment (``WORLD_SIZE`` > 1), else from ``--shard K/N``,
    else the whole list."""
    env = os.environ if env is None else env
    world = int(env.get("WORLD_SIZE") or 1)
    if world > 1:
        if explicit:
            raise ValueError("--shard is for launchers other than torchrun; under torchrun every rank "
                             "takes its share by itself")
        return Shard(rank=int(env["RANK"]), world=world, local_rank=int(env.get("LOCAL_RANK") or 0),
                     local_world=int(env.get("LOCAL_WORLD_SIZE") or 1), torchrun=True)
    if explicit:
        rank, world = parse_shard(explicit)
        return Shard(rank=rank, world=world)
    return Shard()


def take_share(jobs: Sequence[T], rank: int, world: int, group: Callable[[T], Hashable] | None = None) -> list[T]:
    """The jobs of shard ``rank`` of ``world``, in their original order.

    Jobs are dealt round-robin group by group (``group(job)``, e.g. the method; groups in order of first
    appearance), the deal continuing across groups, so over all ranks the shares are disjoint, their union
    is ``jobs``, and any two ranks' counts differ by at most one, in every group and in total.
    """
    if world < 1 or not 0 <= rank < world:
        raise ValueError(f"no shard {rank} of {world}")
    if world == 1:
        return list(jobs)
    keys = [group(job) if group else None for job in jobs]
    first_seen: dict[Hashable, int] = {}
    for key in keys:
        first_seen.setdefault(key, len(first_seen))
    dealt = sorted(range(len(jobs)), key=lambda i: (first_seen[keys[i]], i))
    mine = set(dealt[rank::world])
    return [job for i, job in enumerate(jobs) if i in mine]


def shard_device(requested: str, shard: Shard) -> torch.device:
    """The device of this process. ``auto``: ``cuda:LOCAL_RANK`` when CUDA is available (one GPU per rank),
    else the CPU (``trainers.runtime.resolve_device``, the training convention); a bare ``cuda`` under
    torchrun also means the rank's own GPU. The CUDA device is made current, so stray ``"cuda"``
    allocations land there too."""
    device = resolve_device(requested)
    if device.type == "cuda" and device.index is None:
        device = torch.device("cuda", shard.local_rank)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    return device


def limit_cpu_threads(shard: Shard, device: torch.device) -> int | None:
    """Under torchrun on the CPU, give each local rank an equal part of the cores (N ranks each running
    all cores' worth of OpenMP threads spin against each other); returns the thread count set, or None
    when left alone (one process, GPU, or ``--shard``, whose neighbours are unknown)."""
    if device.type != "cpu" or not shard.torchrun or shard.local_world <= 1:
        return None
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    threads = max(1, cpus // shard.local_world)
    torch.set_num_threads(threads)
    return threads


class Ranks:
    """Context manager joining torchrun's ranks in a gloo process group for the final barrier; without
    torchrun it does nothing and :meth:`gather` returns this process's value alone."""

    def __init__(self, shard: Shard, timeout: dt.timedelta = BARRIER_TIMEOUT):
        self.shard = shard
        self.timeout = timeout
        self._owned = False

    def __enter__(self) -> Ranks:
        if self.shard.torchrun and not dist.is_initialized():
            # At the start, not at the end: a misconfigured launch fails now, not after hours of maps.
            dist.init_process_group("gloo", timeout=self.timeout)
            self._owned = True
        return self

    def gather(self, value: Any) -> list[Any]:
        """Every rank's ``value`` in rank order, once all ranks got here (a barrier); ``[value]`` alone
        without torchrun."""
        if not (self.shard.torchrun and dist.is_initialized()):
            return [value]
        out: list[Any] = [None] * dist.get_world_size()
        dist.all_gather_object(out, value)
        return out

    def __exit__(self, *exc_info) -> None:
        if self._owned and dist.is_initialized():
            dist.destroy_process_group()
        self._owned = False
