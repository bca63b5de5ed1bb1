"""Where and how a training run executes: the device, the seeds, the torchrun process group."""

from __future__ import annotations

import os
import random

import numpy as np
import torch
import torch.distributed as dist


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda", int(os.environ.get("LOCAL_RANK", 0)))
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.cuda.manual_seed_all(seed)


def init_distributed() -> tuple[int, int]:
    """(rank, world size); starts the process group when launched by torchrun."""
    world = int(os.environ.get("WORLD_SIZE", 1))
    if world > 1 and not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        if torch.cuda.is_available():
            torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    rank = dist.get_rank() if dist.is_initialized() else 0
    return rank, world


def all_reduce(t: torch.Tensor) -> torch.Tensor:
    """Sums ``t`` over the ranks in place (a no-op outside torchrun)."""
    if dist.is_initialized():
        dist.all_reduce(t)
    return t


def one_cycle(optimizer: torch.optim.Optimizer, max_lr: float, total_steps: int,
              pct_start: float = 0.25) -> torch.optim.lr_scheduler.OneCycleLR:
    """torch's one-cycle schedule, also for a run of very few optimiser steps (a tiny folder, a smoke test).

    ``OneCycleLR`` ends its warm-up at step ``pct_start * total_steps - 1`` and divides by that phase's
    length, so a run with ``pct_start * total_steps <= 1`` (4 steps at 0.25) dies with a ZeroDivisionError.
    Short runs get a warm-up of at least 1.5 steps (the longest still below 0.9 of the run), and a one-step run
    a schedule of two steps of which it uses one.
    """
    total = max(2, total_steps)
    return torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_lr, total_steps=total,
                                               pct_start=min(0.9, max(pct_start, 1.5 / total)))
