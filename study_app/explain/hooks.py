"""Scoped hooks: whatever an attribution attaches to a model is gone afterwards, even after an exception.

Captum removes the hooks it registers in ``finally`` blocks, but a model shared by every participant of a
study must not depend on that for every code path (an interrupted LIME run, a failing forward inside
Grad-CAM). :func:`no_leftover_hooks` snapshots the hook dictionaries of every submodule and removes any
entry added inside the block, the same guarantee pytorch-grad-cam gives with its ``with`` blocks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from torch import nn

HOOK_DICTS = (
    "_forward_hooks",
    "_forward_pre_hooks",
    "_backward_hooks",
    "_backward_pre_hooks",
    "_forward_hooks_with_kwargs",
    "_forward_hooks_always_called",
    "_forward_pre_hooks_with_kwargs",
)


HOOK_KINDS = HOOK_DICTS[:4]  # the others are bookkeeping keyed by the same hook ids


def hook_counts(model: nn.Module) -> dict[str, int]:
    """Number of registered hooks per hook kind over all submodules (used by tests and assertions)."""
    counts = dict.fromkeys(HOOK_KINDS, 0)
    for module in model.modules():
        for name in HOOK_KINDS:
            counts[name] += len(getattr(module, name, {}) or {})
    return counts


@contextmanager
def no_leftover_hooks(*models: nn.Module) -> Iterator[None]:
    """Remove, on exit, every module hook registered on ``models`` inside the block.

    Hooks that existed before the block (for example a user's own) are kept untouched.
    """
    before: list[tuple[dict, set]] = []
    full_flags: list[tuple[nn.Module, object]] = []
    for model in models:
        for module in model.modules():
            full_flags.append((module, getattr(module, "_is_full_backward_hook", None)))
            for name in HOOK_DICTS:
                hooks = getattr(module, name, None)
                if hooks is not None:
                    before.append((hooks, set(hooks.keys())))
    try:
        yield
    finally:
        for hooks, keys in before:
            for key in [k for k in hooks.keys() if k not in keys]:
                hooks.pop(key, None)
        for module, flag in full_flags:
            module._is_full_backward_hook = flag
