"""Progress output that suits where it goes: a live bar on a terminal, a few plain lines in a log.

tqdm redraws its bar in place with carriage returns; a terminal shows one line, but a log file, a CI job
or ``journalctl`` keeps every redraw, so one ``precompute`` left hundreds of lines. :func:`progress`
decides once, from ``isatty()`` of the stream it writes to (stderr, like tqdm):

- terminal: tqdm's live bar, as before;
- anything else: at most three milestone lines (25, 50, 75 %, only once the loop has run ``quiet_s``
  seconds, so short loops stay silent) and one summary line at the end (``leave=True``), e.g.
  ``precompute: 72/72 map in 41.3 s (1.7 map/s)``. Without a known total, a line every ``interval_s``.

Every command of the project goes through here (trainers and study_app alike; trainers import nothing
from study_app, so this module lives with them)::

    for x, y in progress(loader, desc="epoch 3/10", leave=False, enabled=show):
        ...
    with progress(total=len(jobs), desc="precompute", unit="map") as bar:
        bar.update()
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any

MILESTONES = (0.25, 0.5, 0.75)


def is_terminal(stream: IO | None) -> bool:
    """Whether ``stream`` is an interactive terminal (closed or odd streams count as not)."""
    try:
        return bool(stream is not None and stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def progress(iterable: Iterable | None = None, *, total: int | None = None, desc: str = "", unit: str = "it",
             enabled: bool = True, leave: bool = True, stream: IO | None = None, interactive: bool | None = None,
             quiet_s: float = 10.0, interval_s: float = 60.0):
    """A progress reporter over ``iterable`` (or driven by ``update()``), used like a tqdm bar: iterate it,
    or ``update(n)``, ``set_postfix(...)``, ``set_postfix_str(...)``, ``close()``, ``with``.

    ``enabled=False`` prints nothing. ``interactive`` forces the mode (default: ``stream.isatty()``);
    ``stream`` defaults to ``sys.stderr`` at call time.
    """
    stream = sys.stderr if stream is None else stream
    if total is None and iterable is not None:
        try:
            total = len(iterable)  # type: ignore[arg-type]
        except TypeError:
            total = None
    if not enabled:
        return Silent(iterable, total)
    if is_terminal(stream) if interactive is None else interactive:
        from tqdm import tqdm  # noqa: PLC0415 - only a terminal needs it

        return tqdm(iterable, total=total, desc=desc, unit=unit, leave=leave, file=stream, dynamic_ncols=True)
    return LogProgress(iterable, total=total, desc=desc, unit=unit, leave=leave, stream=stream, quiet_s=quiet_s,
                       interval_s=interval_s)


class Silent:
    """Counts and passes items through; prints nothing."""

    def __init__(self, iterable: Iterable | None = None, total: int | None = None):
        self.iterable, self.total, self.n = iterable, total, 0

    def __iter__(self) -> Iterator:
        for item in self.iterable or ():
            yield item
            self.update()
        self.close()

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        pass

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        pass

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class LogProgress(Silent):
    """Plain lines for logs: milestones of a long loop and one summary line; never a carriage return."""

    def __init__(self, iterable: Iterable | None = None, *, total: int | None, desc: str, unit: str, leave: bool,
                 stream: IO, quiet_s: float, interval_s: float, clock=time.monotonic):
        super().__init__(iterable, total)
        self.desc, self.unit, self.leave, self.stream = desc, unit, leave, stream
        self.quiet_s, self.interval_s, self._clock = quiet_s, interval_s, clock
        self.start = self._last_line = clock()
        self.postfix = ""
        self._next_milestone = 0
        self._closed = False

    def update(self, n: int = 1) -> None:
        self.n += n
        now = self._clock()
        if now - self.start < self.quiet_s:
            return
        if self.total:
            passed = [m for m in MILESTONES[self._next_milestone:] if self.n >= m * self.total]
            if passed and self.n < self.total:
                self._next_milestone += len(passed)
                self._write(f"{int(100 * passed[-1])} %")
        elif now - self._last_line >= self.interval_s:
            self._write("running")

    def set_postfix(self, ordered_dict: dict | None = None, refresh: bool = True, **kwargs: Any) -> None:
        items = {**(ordered_dict or {}), **kwargs}
        self.postfix = ", ".join(f"{k}={v}" for k, v in items.items())

    def set_postfix_str(self, s: str = "", refresh: bool = True) -> None:
        self.postfix = s

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self.leave:
            self._write("done")

    def _write(self, what: str) -> None:
        now = self._clock()
        self._last_line = now
        elapsed = now - self.start
        count = f"{self.n}/{self.total}" if self.total else f"{self.n}"
        rate = f", {self.n / elapsed:.3g} {self.unit}/s" if elapsed > 0 and self.n else ""
        if what != "done" and self.total and 0 < self.n < self.total:  # the time left at the rate so far
            rate += f", about {elapsed / self.n * (self.total - self.n) / 60:.1f} min left"
        postfix = f"; {self.postfix}" if self.postfix else ""
        label = f"{self.desc}: " if self.desc else ""
        try:
            print(f"{label}{what}: {count} {self.unit} in {elapsed:.1f} s{rate}{postfix}", file=self.stream,
                  flush=True)
        except (ValueError, OSError):  # a closed stream must not break the work being reported on
            pass
