"""The concepts explanation kind: TCAV scores (Kim et al. 2018, "Interpretability Beyond Feature Attribution:
Quantitative Testing with Concept Activation Vectors") for researcher-supplied concept folders
(:mod:`study_app.explain.concept_sets`), computed with Captum's :mod:`captum.concept` (``TCAV``, ``Concept`` and its
default CAV classifier: scikit-learn's linear SGD classifier on two thirds of the activations, its accuracy
measured on the other third).

Definitions, as in the paper and Captum:

* The inputs are the example pool's images whose TRUE label is the explained class (at most
  ``max_class_images``, in pool order); the directional derivative of that class's logit along a CAV is taken at
  ``layer`` (the gradient of the logit with respect to the layer's output, dotted with the CAV).
* Random subsets 0..``runs`` are drawn (seeded, without replacement) from ``random/``. Run i of a concept trains
  the CAV of the concept (its first ``max_images`` images by file name) against random subset i; the null run i
  trains random subset 0 against random subset i.
* A run's TCAV score is the share of the inputs whose directional derivative is positive (Captum's
  ``sign_count``); ``score`` is the mean over the runs, in [0, 1].
* ``p_value``: two-sided t-test (``scipy.stats.ttest_ind``, equal variances, as Kim et al.'s code) of the
  concept's run scores against the null run scores; NaN when undefined (both constant). ``significant``:
  ``p_value < alpha / number of concepts`` (Bonferroni), False when undefined. Kim et al. train "typically 500"
  runs; the default of 10 keeps one computation to seconds on a CPU at the cost of a weaker t-test: raise
  ``runs`` for a study (``random/`` must allow ``runs + 1`` different subsets).

The default layer is ``layer3``, not ``layer4``: in a torchvision ResNet everything after ``layer4`` is linear
(average pooling and the fully connected layer), so the gradient there is the same for every input and each
run's score could only be 0 or 1. Deterministic: ``seed`` fixes the random subsets, Captum's train/test
shuffle (Python's ``random``) and the classifier (NumPy, torch); the global generators are restored afterwards.
Exemplars: the first two images of each concept by file name (a researcher chooses them by naming).

The record keeps every run's score and CAV accuracy (on the third of the images the classifier held out), and
``cav_fits_not_converged``: how many of the ``cav_fits`` CAV fits stopped at scikit-learn's iteration limit
(Captum's default classifier: 1000). A CAV near chance accuracy points in no particular direction: read its
concept's score with that in mind (the t-test against the null runs guards against such concepts only in part).

Cached under ``<cache>/concepts/`` (key: checkpoint, concept-set hash, pool hash, target, parameters,
:data:`KIND_VERSION`, input geometry). Captum writes activations and CAVs under its ``save_path``: a fresh
folder ``<cache>/concepts/work/<key prefix>.<random>`` per computation (so concurrent computations never mix),
deleted when the result is stored (the record keeps every run's score and the CAV accuracies).
"""

from __future__ import annotations

import hashlib
import math
import random as pyrandom
import shutil
import tempfile
import threading
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
import torch
from captum.concept import TCAV, Concept
from captum.concept._utils.classifier import DefaultClassifier, _train_test_split
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from torch.utils.data import DataLoader, TensorDataset

from study_app.explain.base import library_versions
from study_app.explain.cache import AttributionCache, cache_key, cache_root
from study_app.explain.concept_sets import (
    DEFAULTS,
    ConceptSet,
    random_runs_possible,
    random_subset_size,
    read_concepts,
)
from study_app.explain.example_pool import Pool, PoolDataset
from trainers.checkpoint import LoadedCheckpoint
from trainers.images import open_rgb
from trainers.predict import preprocess

KIND_VERSION = 1
DEFAULT_LAYERS = ("layer3", "backbone.layer3")  # torchvision ResNets; zero-shot folds wrap one
BATCH = 16
_RNG_LOCK = threading.Lock()  # the global generators are seeded for one computation at a time


class ConceptParamError(ValueError):
    """A parameter of the concepts kind, or its inputs, cannot be used; the message names the field."""


@dataclass(frozen=True)
class ConceptScore:
    name: str
    score: float
    p_value: float
    significant: bool
    exemplars: tuple[str, ...]


@dataclass(frozen=True)
class ConceptResult:
    kind: str
    target: str
    concepts: tuple[ConceptScore, ...]
    record: dict
    key: str
    from_cache: bool = False
    shuffled: bool = False

    @property
    def quality(self) -> dict[str, Any]:
        return self.record["quality"]


class CavClassifier(DefaultClassifier):
    """Captum's default CAV classifier (same split, same scikit-learn SGD model), with the held-out accuracy
    measured correctly: for two concepts Captum 0.9 takes the arg-max over the linear model's single output
    column, so it always predicts the first concept and reports that concept's share of the test split."""

    def __init__(self) -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Captum warns that it holds the data in memory
            super().__init__()

    def train_and_eval(self, dataloader: DataLoader, test_split_ratio: float = 0.33, **kwargs: Any) -> dict:
        inputs, labels = zip(*dataloader)
        x_train, x_test, y_train, y_test = _train_test_split(torch.cat(inputs), torch.cat(labels),
                                                             test_split=test_split_ratio)
        self.lm.device = x_train.device
        self.lm.fit(DataLoader(TensorDataset(x_train, y_train)))
        out = self.lm(x_test)  # the decision function: positive for the second class
        index = (out[:, 0] > 0).long() if out.shape[1] == 1 else out.argmax(dim=1)
        predicted = self.lm.classes()[index.cpu()]
        return {"accs": (predicted.long() == y_test.long().cpu()).float().mean()}


def default_layer(model: torch.nn.Module) -> str:
    names = dict(model.named_modules())
    for name in DEFAULT_LAYERS:
        if name in names:
            return name
    raise ConceptParamError(f"layer: this model has no {' or '.join(DEFAULT_LAYERS)}; name a layer")


def _whole(name: str, value: Any, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConceptParamError(f"{name}: must be a whole number of at least {least}, not {value!r}")
    return value


def validate_params(params: dict[str, Any], model: torch.nn.Module) -> dict[str, Any]:
    """``params`` merged over :data:`DEFAULTS` and checked; :class:`ConceptParamError` naming the field."""
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise ConceptParamError(f"{unknown[0]}: not a parameter of concepts (allowed: {', '.join(DEFAULTS)})")
    out = {**DEFAULTS, **params}
    out["runs"] = _whole("runs", out["runs"], 2)  # a t-test needs two runs a side
    out["max_images"] = _whole("max_images", out["max_images"], 5)
    out["max_class_images"] = _whole("max_class_images", out["max_class_images"], 1)
    out["seed"] = _whole("seed", out["seed"], 0)
    alpha = out["alpha"]
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise ConceptParamError(f"alpha: must be a number between 0 and 1, not {alpha!r}")
    out["alpha"] = float(alpha)
    layer = out["layer"] if out["layer"] is not None else default_layer(model)
    if not isinstance(layer, str) or layer not in dict(model.named_modules()):
        raise ConceptParamError(f"layer: {layer!r} is not a layer of the model (e.g. {default_layer(model)!r})")
    out["layer"] = layer
    return out


def concept_cache(cache_dir: str | Path | None) -> AttributionCache:
    """The concept results' cache: an :class:`AttributionCache` in ``concepts/`` of the cache folder, holding
    an empty map and the result as its record."""
    return AttributionCache(cache_root(cache_dir) / "concepts")


def _key(checkpoint: LoadedCheckpoint, concepts: ConceptSet, pool: Pool, target_index: int, params: dict) -> str:
    determining = {**params, "pool": pool.sha256, "target_index": target_index,
                   "target": checkpoint.class_names[target_index], "kind_version": KIND_VERSION,
                   "input_size": checkpoint.input_size, "mean": list(checkpoint.mean), "std": list(checkpoint.std)}
    return cache_key(checkpoint.sha256, concepts.sha256, "concepts", determining)


def _finite(x: float) -> float | None:
    return None if math.isnan(x) else x


def result_from_record(key: str, record: dict, concepts: ConceptSet, from_cache: bool) -> ConceptResult:
    """The result with exemplar paths under the concept set's current folder (the record stores paths relative
    to it, so a moved folder keeps its results)."""
    scores = tuple(
        ConceptScore(c["name"], float(c["score"]), math.nan if c["p_value"] is None else float(c["p_value"]),
                     bool(c["significant"]), tuple(str(concepts.root / rel) for rel in c["exemplars"]))
        for c in record["concepts"])
    return ConceptResult("concepts", record["target"], scores, record, key, from_cache,
                         shuffled=record.get("shuffle") is not None)


def concept_scores(
    checkpoint: LoadedCheckpoint, concepts: ConceptSet | str | Path, pool: Pool, target_index: int,
    cache_dir: str | Path | None = None, **params: Any,
) -> ConceptResult:
    """TCAV scores of every concept of ``concepts`` for class ``target_index`` of the checkpoint, on the pool's
    images of that class (cached; definitions in the module docstring). Parameters: ``layer``, ``runs``,
    ``alpha``, ``max_images`` (per concept and per random subset), ``max_class_images``, ``seed``."""
    if not isinstance(concepts, ConceptSet):
        concepts = read_concepts(concepts)
    names = checkpoint.class_names
    if isinstance(target_index, bool) or not isinstance(target_index, int) or not 0 <= target_index < len(names):
        raise ConceptParamError(f"target: {target_index!r} is not a class index of the model (0..{len(names) - 1})")
    params = validate_params(params, checkpoint.model)
    target = names[target_index]
    class_images = [im for im in pool.images if im.label == target][: params["max_class_images"]]
    if not class_images:
        raise ConceptParamError(f"pool: no image of the example pool is labelled {target!r} (TCAV's inputs are the "
                                "pool's images of the explained class)")
    n_random = len(concepts.random)
    if random_runs_possible(n_random, params["max_images"]) < params["runs"] + 1:
        raise ConceptParamError(f"runs: {params['runs']} runs need {params['runs'] + 1} different random subsets; "
                                f"random/ ({n_random} images) allows fewer")
    cache = concept_cache(cache_dir)
    key = _key(checkpoint, concepts, pool, target_index, params)
    hit = cache.get(key)
    if hit is not None:
        return result_from_record(key, hit.record, concepts, from_cache=True)
    started = time.perf_counter()
    subsets = _random_subsets(concepts, params)
    work_root = cache_root(cache_dir) / "concepts" / "work"
    work_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(dir=work_root, prefix=f"{key[:16]}."))
    try:
        with _seeded(params["seed"]):
            runs, not_converged = _tcav_runs(checkpoint, concepts, class_images, subsets, target_index, params, work)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    record = _record(checkpoint, concepts, pool, target, target_index, params, class_images, subsets, runs)
    record["cav_fits_not_converged"] = not_converged
    record["seconds"] = round(time.perf_counter() - started, 4)
    cache.put(key, np.zeros((0, 0), dtype=np.float32), record)
    entry = cache.get(key)  # read back, so a first call returns exactly what later hits will
    return result_from_record(key, entry.record if entry else record, concepts, from_cache=False)


def _random_subsets(concepts: ConceptSet, params: dict) -> list[list[int]]:
    """``runs + 1`` different seeded subsets of the random images (indices, sorted)."""
    n = len(concepts.random)
    size = random_subset_size(n, params["max_images"])
    rng = np.random.default_rng(params["seed"])
    subsets: dict[tuple[int, ...], None] = {}  # insertion-ordered set
    while len(subsets) < params["runs"] + 1:
        subsets.setdefault(tuple(sorted(rng.choice(n, size=size, replace=False).tolist())))
    return [list(s) for s in subsets]


@contextmanager
def _seeded(seed: int):
    """Seed Python's, NumPy's and torch's global generators (Captum's classifier draws from them), one
    computation at a time, and restore them afterwards."""
    with _RNG_LOCK:
        states = pyrandom.getstate(), np.random.get_state(), torch.random.get_rng_state()
        pyrandom.seed(seed)
        np.random.seed(seed)
        torch.manual_seed(seed)
        try:
            yield
        finally:
            pyrandom.setstate(states[0])
            np.random.set_state(states[1])
            torch.random.set_rng_state(states[2])


def _loader(checkpoint: LoadedCheckpoint, root: Path, images) -> DataLoader:
    return DataLoader(PoolDataset(checkpoint, Pool(root, tuple(images))), batch_size=BATCH, shuffle=False)


def _tcav_runs(checkpoint, concepts: ConceptSet, class_images, subsets, target_index: int, params: dict,
               work: Path) -> tuple[dict[str, Any], int]:
    """Captum's TCAV over every (concept, random i) and (random 0, random i) pair: each run's sign-count score
    and CAV accuracy, per concept name and for the null (``"random"``); and how many CAV fits stopped at the
    classifier's iteration limit."""
    layer, runs = params["layer"], params["runs"]
    ids = {name: j for j, name in enumerate(concepts.names)}
    concept_objs = {name: Concept(j, f"concept{j}", _loader(checkpoint, concepts.root,
                                                            concepts.members(name)[: params["max_images"]]))
                    for name, j in ids.items()}
    random_imgs = concepts.random
    randoms = [Concept(len(ids) + i, f"random{i}",
                       _loader(checkpoint, concepts.root, [random_imgs[k] for k in subset]))
               for i, subset in enumerate(subsets)]
    pairs = {name: [[c, randoms[i]] for i in range(1, runs + 1)] for name, c in concept_objs.items()}
    pairs["random"] = [[randoms[0], randoms[i]] for i in range(1, runs + 1)]
    tcav = TCAV(checkpoint.model, [layer], model_id="model", classifier=CavClassifier(), save_path=str(work))
    device = next(checkpoint.model.parameters()).device
    inputs = preprocess(checkpoint, [open_rgb(im.path) for im in class_images]).to(device)
    sets = [s for group in pairs.values() for s in group]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scores = tcav.interpret(inputs, sets, target=target_index)
    not_converged = sum(issubclass(w.category, ConvergenceWarning) for w in caught)
    out: dict[str, Any] = {}
    for name, group in pairs.items():
        keys = ["-".join(str(c.id) for c in s) for s in group]
        out[name] = {
            "run_scores": [float(scores[k][layer]["sign_count"][0]) for k in keys],
            "cav_accuracy": [float(tcav.cavs[k][layer].stats["accs"]) for k in keys],
        }
    return out, not_converged


def _record(checkpoint, concepts: ConceptSet, pool: Pool, target: str, target_index: int, params: dict,
            class_images, subsets, runs: dict[str, Any]) -> dict[str, Any]:
    null = runs["random"]["run_scores"]
    n_concepts = len(concepts.names)
    rows = []
    for name in concepts.names:
        concept_runs = runs[name]["run_scores"]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # constant samples: p is NaN, reported as undefined
            p = float(stats.ttest_ind(concept_runs, null).pvalue)
        rows.append({
            "name": name, "score": float(np.mean(concept_runs)), "p_value": _finite(p),
            "significant": bool(not math.isnan(p) and p < params["alpha"] / n_concepts),
            "exemplars": [im.rel for im in concepts.members(name)[:2]],
            "images_used": len(concepts.members(name)[: params["max_images"]]),
            "run_scores": concept_runs, "cav_accuracy": runs[name]["cav_accuracy"],
        })
    random_imgs = concepts.random
    return {
        "kind": "concepts", "kind_version": KIND_VERSION, "params": params, "target": target,
        "target_index": target_index, "checkpoint_sha256": checkpoint.sha256, "concepts_sha256": concepts.sha256,
        "pool_sha256": pool.sha256, "class_images": [im.rel for im in class_images],
        "random_subsets": [[random_imgs[k].rel for k in subset] for subset in subsets],
        "null_run_scores": null, "null_cav_accuracy": runs["random"]["cav_accuracy"],
        "cav_fits": (n_concepts + 1) * params["runs"],
        "concepts": rows, "shuffle": None,
        "versions": {**library_versions(), "scipy": scipy.__version__, "scikit-learn": sklearn.__version__},
        "quality": {"tcav_p_values": {r["name"]: r["p_value"] for r in rows},
                    "significant": [r["name"] for r in rows if r["significant"]],
                    "n_class_images": len(class_images), "runs": params["runs"]},
    }


def derangement(n: int, seed: str | int) -> list[int]:
    """A seeded permutation of ``range(n)`` that moves every element (the identity when ``n`` is 1)."""
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(str(seed).encode()).digest()[:8], "big"))
    if n < 2:
        return list(range(n))
    while True:
        perm = rng.permutation(n).tolist()
        if all(p != i for i, p in enumerate(perm)):
            return perm


def shuffled(result: ConceptResult, seed: str | int) -> ConceptResult:
    """The placebo: each concept shown with the (score, p-value, significance) of concept ``permutation[i]``
    (a seeded derangement, so no concept keeps its own where there are two or more); names and exemplars stay.
    ``record["shuffle"]`` and ``quality`` say what was shown; the key is derived from the result's key and
    the seed."""
    if result.shuffled:
        raise ValueError("these concept scores are already shuffled")
    perm = derangement(len(result.concepts), seed)
    shown = tuple(replace(c, score=result.concepts[j].score, p_value=result.concepts[j].p_value,
                          significant=result.concepts[j].significant) for c, j in zip(result.concepts, perm))
    key = hashlib.sha256(f"{result.key}:shuffled:{seed}".encode()).hexdigest()
    quality = {**result.quality,
               "tcav_p_values": {c.name: _finite(c.p_value) for c in shown},
               "significant": [c.name for c in shown if c.significant],
               "shuffled": True, "permutation": perm}
    record = {**result.record, "quality": quality, "key": key,
              "shuffle": {"seed": str(seed), "permutation": perm, "unshuffled_key": result.key,
                          "shown_scores": [c.score for c in shown]}}
    return replace(result, concepts=shown, record=record, key=key, shuffled=True)
