"""How long a long command will take, said before it starts: ``xai-study precompute`` and ``faithfulness``.

The estimate is a per-method cost model timed on this machine, not a guess: before the long loop, the command
computes the first missing map of each method (it is cached, so the time is not lost) and times one forward
pass of the model. Then

* a missing map costs its method's timed map;
* a missing faithfulness score (:mod:`study_app.explain.faithfulness`) costs ``sensitivity_samples`` more
  maps of its method (max-sensitivity re-runs the method), one more for the randomisation check, and
  ``2 * (steps + 1) + infidelity_samples`` forward passes (deletion and insertion curves, infidelity);
* except for LIME and Kernel SHAP, whose max-sensitivity and randomisation check are fitted on
  ``SCORE_ROWS`` common coalitions (:mod:`study_app.explain.superpixel_scores`): ``(1 + sensitivity_samples)``
  × ``SCORE_ROWS`` model evaluations (a quarter more for the randomised model's top layers), each at the
  cost of one evaluation of the timed map (its seconds over its recorded evaluations).

Maps of one method differ little in cost across images of one model (the same input size and method
parameters), so the first map of each method stands for the rest; the command's progress line then shows
the actual rate and the time left.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from typing import Any

from study_app.explain.superpixel_scores import SCORE_ROWS
from study_app.explain.surrogates import SAMPLED_METHODS


def first_of_each(items: Iterable, group: Callable[[Any], Hashable]) -> list:
    """The first item of each group (e.g. of each method), in order."""
    seen, out = set(), []
    for item in items:
        key = group(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def timed(fn: Callable[[], Any]) -> float:
    """Seconds ``fn()`` took."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def sampled_score_evaluations(options: dict[str, Any]) -> float:
    """Model evaluations of LIME's or Kernel SHAP's max-sensitivity and randomisation check (module docstring)."""
    rows = SCORE_ROWS * (1 + int(options.get("sensitivity_samples", 0)))
    return rows + (SCORE_ROWS / 4 if options.get("sanity", True) else 0)


def faithfulness_cost(options: dict[str, Any]) -> tuple[int, int]:
    """``(extra maps, forward passes)`` one faithfulness score costs with ``options`` (see module docstring)."""
    maps = int(options.get("sensitivity_samples", 0)) + (1 if options.get("sanity", True) else 0)
    forwards = 2 * (int(options.get("steps", 20)) + 1) + int(options.get("infidelity_samples", 0))
    return maps, forwards


@dataclass
class CostModel:
    """Seconds per map of each method and per forward pass, as timed on this machine."""

    map_seconds: dict[str, float] = field(default_factory=dict)
    forward_seconds: float = 0.0
    map_evaluations: dict[str, int] = field(default_factory=dict)  # a sampled map's recorded model evaluations

    def time_map(self, method: str, compute: Callable[[], Any]) -> None:
        """Time ``compute()`` (one map of ``method``) and keep the model evaluations its metadata records."""
        start = time.perf_counter()
        result = compute()
        self.map_seconds[method] = time.perf_counter() - start
        record = getattr(result, "convergence", None) or (getattr(result, "meta", None) or {}).get("convergence")
        if record and record.get("n_evaluations"):
            self.map_evaluations[method] = int(record["n_evaluations"])

    def score_seconds(self, method: str, options: dict[str, Any]) -> float:
        """Seconds of one faithfulness score of ``method``'s map."""
        extra_maps, forwards = faithfulness_cost(options)
        if method in SAMPLED_METHODS and self.map_evaluations.get(method):
            per_evaluation = self.map_seconds.get(method, 0.0) / self.map_evaluations[method]
            return sampled_score_evaluations(options) * per_evaluation + forwards * self.forward_seconds
        return extra_maps * self.map_seconds.get(method, 0.0) + forwards * self.forward_seconds

    def seconds(self, maps: dict[str, int], scores: dict[str, int] | None = None,
                options: dict[str, Any] | None = None) -> float:
        """Estimated seconds for ``maps[method]`` maps and ``scores[method]`` faithfulness scores."""
        total = sum(n * self.map_seconds.get(m, 0.0) for m, n in maps.items())
        if scores:
            total += sum(n * self.score_seconds(m, options or {}) for m, n in scores.items())
        return total

    def basis(self, options: dict[str, Any] | None = None) -> str:
        """How the estimate was made, for the line that prints it."""
        timings = ", ".join(f"{m} {s:.1f} s" for m, s in self.map_seconds.items())
        text = f"per-method cost model, one map per method timed here: {timings}"
        if options is not None:
            extra_maps, forwards = faithfulness_cost(options)
            text += (f"; a faithfulness score = {extra_maps} more maps + {forwards} forward passes of "
                     f"{self.forward_seconds * 1000:.0f} ms")
            sampled = [m for m in SAMPLED_METHODS if self.map_evaluations.get(m)]
            if sampled:
                text += (f" ({', '.join(sampled)}: {sampled_score_evaluations(options):.0f} model evaluations on "
                         "common coalitions instead of the extra maps)")
        return text


def duration(seconds: float) -> str:
    """``about 3 min``, ``about 1.4 h``, ``under a minute``."""
    if seconds < 60:
        return "under a minute"
    if seconds < 5400:
        return f"about {seconds / 60:.0f} min"
    return f"about {seconds / 3600:.1f} h"


def announce_estimate(what: str, missing: int, cached: int, seconds: float, basis: str) -> None:
    """The line before a long loop: ``36 maps missing (12 already cached): about 48 min (basis)``."""
    if seconds <= 0:  # nothing to compute, or nothing timed (every map already cached)
        print(f"{missing} {what} missing ({cached} already cached): nothing to compute", flush=True)
        return
    print(f"{missing} {what} missing ({cached} already cached): {duration(seconds)} ({basis})", flush=True)
