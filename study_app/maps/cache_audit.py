"""What the attribution cache holds for a study beyond "every map is there", for ``xai-study check`` and the
gallery. No Streamlit; nothing here computes a map.

* **Convergence** of a sampled map (LIME, Kernel SHAP): its ``meta["convergence"]`` record, whose
  ``split_half_spearman`` is the Spearman rank correlation over the map's pixels between the maps fitted on two
  disjoint halves of its samples (:mod:`study_app.explain.surrogates`). Below
  :data:`~study_app.explain.surrogates.CONVERGED_SPLIT_HALF` the map counts as not converged: much of what it
  shows is sampling noise. Deterministic methods (Grad-CAM, gradients) have no record: nothing to converge.
* **Stale entries**: an entry for one of the study's maps (the same checkpoint, image, method and class, read
  from the entry's record: ``checkpoint_sha256``, ``image_sha256``, ``method``, ``target``) under another key,
  i.e. made with other parameters (an older sampling scheme, other method settings or another input geometry).
  Maps are looked up by key, so such an entry is never served or mixed with the current ones; it is reported,
  ``xai-study precompute --study FILE`` computes the current map and ``--prune`` deletes the old one.
* **Time the missing maps take**, said without computing one: the per-method cost model of
  :mod:`study_app.explain.estimate`, fed with the median seconds per map (``meta["seconds"]`` over the
  ``batch_size`` it was computed with) of the cached maps of the same checkpoint, method, parameters and model
  (trained or randomised). Where no such map is cached the time is unknown until ``precompute`` times one.
"""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from study_app.explain.cache import file_content_sha256
from study_app.explain.estimate import CostModel, duration
from study_app.explain.methods import get_method
from study_app.explain.panels import is_panel, panel_cache
from study_app.explain.surrogates import CONVERGED_SPLIT_HALF
from study_app.maps.coverage import required_maps, study_cache_dir
from study_app.maps.service import MapRequest, make_map_service

EXAMPLES = 3  # maps named in a line


@dataclass(frozen=True)
class ConvergenceNote:
    text: str
    converged: bool


def convergence_note(record: dict | None) -> ConvergenceNote | None:
    """One line on how converged a sampled map is (``meta["convergence"]``); None for a deterministic method."""
    if not record:
        return None
    rho, stopped = record.get("split_half_spearman"), record.get("stopped")
    n = record.get("n_evaluations")
    spent = f"{n:,} model evaluations" if isinstance(n, int) else "model evaluations not recorded"
    if rho is None:
        if stopped == "exhaustive":
            return ConvergenceNote(f"exact: every coalition enumerated ({spent})", True)
        return ConvergenceNote(f"⚠ convergence not measured ({spent}, stopped: {stopped})", False)
    if rho >= CONVERGED_SPLIT_HALF:
        return ConvergenceNote(f"converged: split-half ρ {rho:.2f} ({spent}, stopped: {stopped})", True)
    return ConvergenceNote(f"⚠ not converged: split-half ρ {rho:.2f}, below {CONVERGED_SPLIT_HALF:.2f} "
                           f"({spent}, stopped: {stopped}): partly sampling noise", False)


@dataclass(frozen=True)
class Unconverged:
    where: str  # the map, as required_maps describes it (task/image × method)
    split_half: float
    stopped: str
    method: str  # the study method's label


@dataclass
class CacheAudit:
    """The study's maps in its cache: ``missing`` (descriptions), the estimate for them, the sampled maps'
    convergence and the stale entries (see the module docstring). ``study_file`` names the file in advice."""

    study_file: str
    total: int
    missing: list[str] = field(default_factory=list)
    missing_seconds: float = 0.0  # estimated for the missing maps of timed groups
    timed_missing: int = 0
    timings: dict[str, float] = field(default_factory=dict)  # group label -> median seconds a map
    untimed: Counter = field(default_factory=Counter)  # group label -> missing maps without a timing
    sampled: int = 0  # cached maps with a convergence record
    lowest: float | None = None  # lowest split-half among them
    unconverged: list[Unconverged] = field(default_factory=list)  # worst first
    stale: list[tuple[str, str]] = field(default_factory=list)  # (the map it is an old version of, what differs)

    def missing_text(self) -> str:
        """The cache-completeness line: what is missing, about how long it takes, the command."""
        if not self.missing:
            return f"all {self.total} maps cached"
        examples = "; ".join(self.missing[:EXAMPLES])
        return (f"{len(self.missing)} of {self.total} maps not precomputed (e.g. {examples}); {self._time_text()}; "
                f"run: xai-study precompute --study {self.study_file}")

    def _time_text(self) -> str:
        unknown = ", ".join(self.untimed)
        if not self.timed_missing:
            return (f"how long they take is unknown until `xai-study precompute` times one (no map of {unknown} "
                    "is cached yet to take the time from)")
        basis = ", ".join(f"{label} {seconds:.1f} s" for label, seconds in self.timings.items())
        text = (f"{duration(self.missing_seconds)} to compute"
                + (f" {self.timed_missing} of them" if self.untimed else "")
                + f" (median time of a cached map of the same method: {basis})")
        if self.untimed:
            text += (f", the other {sum(self.untimed.values())} ({unknown}) unknown until `xai-study precompute` "
                     "times one")
        return text

    def convergence_text(self) -> str:
        if not self.sampled:
            return "no sampled maps (LIME, Kernel SHAP) cached: nothing to converge"
        if not self.unconverged:
            return (f"all {self.sampled} sampled maps have split-half ρ ≥ {CONVERGED_SPLIT_HALF:.2f} "
                    f"(lowest {self.lowest:.2f})")
        worst = ", ".join(f"{u.where} ρ {u.split_half:.2f}" for u in self.unconverged[:EXAMPLES])
        methods = ", ".join(dict.fromkeys(u.method for u in self.unconverged))
        advice = f"raise n_samples for {methods} in the study file's [[methods]]"
        if any(u.stopped == "converged" for u in self.unconverged):
            advice += f" (and converge_at to at least {CONVERGED_SPLIT_HALF:.2f})"
        return (f"{len(self.unconverged)} of {self.sampled} sampled maps have split-half ρ below "
                f"{CONVERGED_SPLIT_HALF:.2f}, i.e. partly show sampling noise (worst: {worst}); {advice}, then "
                f"run: xai-study precompute --study {self.study_file}")

    def stale_text(self) -> str:
        if not self.stale:
            return "no maps of this study made with other parameters"
        examples = "; ".join(f"{where} ({what})" for where, what in self.stale[:EXAMPLES])
        return (f"{len(self.stale)} maps were made with other parameters (e.g. an older sampling scheme) and are not "
                f"used (e.g. {examples}); `xai-study precompute --study {self.study_file}` recomputes them, "
                "`--prune` removes them")


def audit_cache(study, service=None, predictions=None) -> CacheAudit:
    """Read the study's cache once (never computing a map) into a :class:`CacheAudit`."""
    service = service or make_map_service(study_cache_dir(study))
    cache = service.service.cache
    needed = required_maps(study, predictions)
    audit = CacheAudit(study_file=study.source or "<file>", total=len(needed))
    several = len({request.checkpoint for _, request in needed}) > 1
    wanted: dict[str, tuple[str, MapRequest]] = {}
    seconds: dict[str, list[float]] = {}
    missing: list[tuple[str, str]] = []  # (where, group label)
    for where, request in needed:
        key = service.key(request)
        wanted[key] = (where, request)
        label = _group_label(request, several)
        entry = (panel_cache(service.cache_dir) if is_panel(request.method) else cache).get(key)
        if entry is None:
            missing.append((where, label))
            continue
        meta = entry.record.get("meta") or {}
        if isinstance(meta.get("seconds"), int | float):
            seconds.setdefault(label, []).append(float(meta["seconds"]) / max(1, int(meta.get("batch_size") or 1)))
        _note_convergence(audit, where, request, meta.get("convergence"))
    audit.unconverged.sort(key=lambda u: u.split_half)
    audit.missing = [where for where, _ in missing]
    audit.timings = {label: statistics.median(values) for label, values in seconds.items()}
    counts = Counter(label for _, label in missing)
    timed = Counter({label: n for label, n in counts.items() if label in audit.timings})
    audit.untimed = Counter({label: n for label, n in counts.items() if label not in audit.timings})
    audit.timed_missing = sum(timed.values())
    audit.missing_seconds = CostModel(map_seconds=audit.timings).seconds(timed)
    audit.timings = {label: audit.timings[label] for label in timed}  # the basis names what it used
    audit.stale = _stale(service, wanted)
    return audit


def _group_label(request: MapRequest, several_checkpoints: bool) -> str:
    """Maps that cost alike: one checkpoint, method and parameters, on the trained or the randomised model."""
    label = request.label + (" on the randomised model" if request.randomized_model else "")
    return f"{label} ({Path(request.checkpoint).name})" if several_checkpoints else label


def _note_convergence(audit: CacheAudit, where: str, request: MapRequest, record) -> None:
    if not isinstance(record, dict):
        return
    audit.sampled += 1
    rho = record.get("split_half_spearman")
    if rho is None:
        return
    audit.lowest = rho if audit.lowest is None else min(audit.lowest, rho)
    if rho < CONVERGED_SPLIT_HALF:
        audit.unconverged.append(Unconverged(where, float(rho), str(record.get("stopped")), request.label))


def _stale(service, wanted: dict[str, tuple[str, MapRequest]]) -> list[tuple[str, str]]:
    """Entries of the study's maps (by their records' checkpoint, image, method and class) under other keys."""
    cache = service.service.cache
    images: dict[str, str] = {}
    owners: dict[tuple, tuple[str, MapRequest]] = {}
    for where, request in wanted.values():
        if is_panel(request.method):  # a panel's entries live in their own folder, keyed by content
            continue
        if request.image_path not in images:
            images[request.image_path] = file_content_sha256(request.image_path)
        checkpoint = service.checkpoint(request.checkpoint, request.randomized_model).sha256
        owners[(checkpoint, images[request.image_path], request.method, request.target_index)] = (where, request)
    out = []
    for key in cache.keys():
        if key in wanted:
            continue
        record = cache.record(key)
        if record is None:
            continue
        owner = owners.get((record.get("checkpoint_sha256"), record.get("image_sha256"), record.get("method"),
                            record.get("target")))
        if owner is not None:
            out.append((owner[0], _difference(owner[1], record.get("params") or {})))
    return out


def _difference(request: MapRequest, old: dict) -> str:
    """Which map-determining parameters the old entry was made with differently."""
    current = get_method(request.method, **dict(request.params)).cache_params
    changed = sorted(k for k in set(current) | set(old) if current.get(k) != old.get(k))
    if not changed:
        return "other input size or normalisation"
    return "made with other " + ", ".join(changed)
