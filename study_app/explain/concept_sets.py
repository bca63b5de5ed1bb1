"""Concept folders for TCAV: ``<root>/<concept name>/<images>`` plus the reserved ``<root>/random/``.

Each sub-folder (hidden ones skipped) is a concept named after it and holds example images of it, read
directly inside it as a stimuli or pool folder is read (:mod:`trainers.images`). ``random/`` holds the random
counterparts of Kim et al. (2018): every random run draws its own subset of them (seeded, without
replacement) of :func:`random_subset_size` images, so the folder must hold at least twice
:data:`MIN_CONCEPT_IMAGES`. A concept needs at least :data:`MIN_CONCEPT_IMAGES` usable images (5: below that
the CAV classifier, which holds a third of the images out to measure its accuracy, has too little to learn from).

The set's identity in cache keys is the hash of every file's (relative path, folder, content SHA-256), as for
example pools, so editing, adding, removing or renaming a file gives a new key. :func:`validate_concepts`
returns every problem as data (for ``check``); :func:`read_concepts` refuses an unusable set with the first.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from study_app.explain.example_pool import PoolFinding, PoolImage, count_usable, folder_images
from trainers.images import class_folders, image_files

RANDOM_FOLDER = "random"
MIN_CONCEPT_IMAGES = 5
DEFAULT_RUNS = 10
DEFAULT_MAX_IMAGES = 30


# The TCAV computation's parameters and defaults (study_app.explain.concepts; here, where reading a study file
# finds them without importing Captum's concept module).
DEFAULTS: dict[str, Any] = {"layer": None, "runs": 10, "alpha": 0.05, "max_images": 30, "max_class_images": 50,
                            "seed": 0}

class ConceptSetError(ValueError):
    """A concept folder cannot be used; the message names the folder or file and the reason."""


def random_subset_size(n_random: int, max_images: int) -> int:
    """Images in each random subset: half the random folder (so that two subsets differ), at most
    ``max_images``."""
    return min(max_images, n_random // 2)


def random_runs_possible(n_random: int, max_images: int) -> int:
    """How many different random subsets the folder allows (the runs need ``runs + 1`` of them)."""
    return math.comb(n_random, random_subset_size(n_random, max_images))


@dataclass(frozen=True)
class ConceptSet:
    """The images of a concept root; ``label`` of each image is its folder (a concept name or ``random``)."""

    root: Path
    images: tuple[PoolImage, ...]

    @property
    def names(self) -> tuple[str, ...]:
        """The concepts, in folder-name order (``random`` excluded)."""
        return tuple(dict.fromkeys(im.label for im in self.images if im.label != RANDOM_FOLDER))

    def members(self, name: str) -> tuple[PoolImage, ...]:
        """The images of one folder, by file name."""
        return tuple(im for im in self.images if im.label == name)

    @property
    def random(self) -> tuple[PoolImage, ...]:
        return self.members(RANDOM_FOLDER)

    @property
    def sha256(self) -> str:
        """Hash of every (relative path, folder, content hash): the set's identity in cache keys."""
        rows = [[im.rel, im.label, im.sha256] for im in self.images]
        return hashlib.sha256(json.dumps(rows, separators=(",", ":")).encode()).hexdigest()


def _usable(folder: Path, decode: bool, stimuli: set[str], findings: list[PoolFinding]) -> int:
    """Count the usable images of ``folder``, appending a finding for each unusable one or stimulus copy."""
    return count_usable(image_files(folder), decode, stimuli, findings)


def validate_concepts(
    root: str | Path,
    stimuli_sha256: Iterable[str] = (),
    runs: int = DEFAULT_RUNS,
    max_images: int = DEFAULT_MAX_IMAGES,
    decode: bool = True,
) -> list[PoolFinding]:
    """Every problem of the concept folder at ``root``, in folder order.

    Reported: a missing folder; no concept folders; no ``random`` folder; a concept with fewer than
    :data:`MIN_CONCEPT_IMAGES` usable images; a file that cannot be read or decoded (``decode=False`` only reads
    bytes); a ``random`` folder too small for ``runs`` random runs of :func:`random_subset_size` images; an
    image whose content equals a stimulus (``stimuli_sha256``), which would show participants the image they
    are judging.
    """
    root = Path(root)
    if not root.is_dir():
        return [PoolFinding(str(root), "concept folder is not a folder")]
    stimuli = set(stimuli_sha256)
    findings: list[PoolFinding] = []
    dirs = class_folders(root)
    concepts = [d for d in dirs if d.name != RANDOM_FOLDER]
    if not concepts:
        findings.append(PoolFinding(str(root), "concept folder has no concept folders (expected one folder of "
                                               f"images per concept beside {RANDOM_FOLDER}/)"))
    for folder in concepts:
        usable = _usable(folder, decode, stimuli, findings)
        if usable < MIN_CONCEPT_IMAGES:
            findings.append(PoolFinding(str(folder), f"concept {folder.name!r} has {usable} usable images; "
                                                     f"TCAV needs at least {MIN_CONCEPT_IMAGES}"))
    random_dir = root / RANDOM_FOLDER
    if not random_dir.is_dir():
        findings.append(PoolFinding(str(root), f"concept folder has no {RANDOM_FOLDER}/ folder of random images "
                                               "(the counterparts of the significance test)"))
        return findings
    n_random = _usable(random_dir, decode, stimuli, findings)
    need = 2 * MIN_CONCEPT_IMAGES
    if n_random < need:
        findings.append(PoolFinding(str(random_dir), f"{RANDOM_FOLDER}/ has {n_random} usable images; it needs at "
                                                     f"least {need} (each random run draws half of them, and "
                                                     f"at least {MIN_CONCEPT_IMAGES})"))
    elif random_runs_possible(n_random, max_images) < runs + 1:
        findings.append(PoolFinding(str(random_dir), f"{RANDOM_FOLDER}/ has {n_random} usable images: too few "
                                                     f"for {runs} runs ({runs + 1} different random subsets of "
                                                     f"{random_subset_size(n_random, max_images)} images); add "
                                                     "images or lower runs"))
    return findings


def read_concepts(root: str | Path) -> ConceptSet:
    """The concept set at ``root``; :class:`ConceptSetError` with the first problem when it is not usable
    (checked for the default number of runs; :func:`~study_app.explain.concepts.concept_scores` checks the
    runs it is asked for; overlap with stimuli is the caller's check: see :func:`validate_concepts`)."""
    root = Path(root).resolve()
    return ConceptSet(root, folder_images(root, validate_concepts(root, decode=True), ConceptSetError))
