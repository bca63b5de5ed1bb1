"""The ``decision`` protocol's design as ``xai-study power`` simulates it.

A decision task draws each participant's trials by the model's correctness (:mod:`study_app.study.decision`):
``round(ai_wrong_share x trials)`` AI-wrong trials and the rest AI-right, from the task's eligible stimuli
(advice at least ``min_ai_confidence`` confident); within subjects the arms rotate over the AI-wrong and the
AI-right trials separately from the participant's Latin-square row, so how many AI-wrong trials an arm gets
can differ between conditions; between subjects all trials are in the participant's arm.

:func:`decision_layout` asks the engine's own :func:`~study_app.study.decision.draw_trials` for each
condition's trials per arm (a synthetic pool, so no model is needed), and :func:`decision_facts` reads a
study file's decision task with the loader and counts its eligible pool from the model's predictions, as
``xai-study check`` does.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

from study_app.study.decision import draw_trials, eligible
from study_app.study.loader import load_study
from study_app.study.predictions import ModelOutput, TaskPredictions, predict_task
from study_app.study.schema import DecisionConfig, Stimulus, TaskConfig
from study_app.study.steps import DECISION

Layout = tuple[tuple[tuple[int, int], ...], ...]


def n_wrong(trials: int, ai_wrong_share: float) -> int:
    """AI-wrong trials per participant (the engine's rounding); refuses a share that rounds away, as the
    study-file parser does."""
    wrong = DecisionConfig(arms=(), ai_wrong_share=ai_wrong_share).n_wrong(trials)
    if (ai_wrong_share > 0 and wrong == 0) or (ai_wrong_share < 1 and wrong == trials):
        raise ValueError(f"ai_wrong_share {ai_wrong_share} of {trials} trials rounds to {wrong} with the AI "
                         "wrong, which a decision study file may not do; change the share or the trials")
    return wrong


def decision_layout(arms: tuple[str, ...], trials: int, ai_wrong_share: float, within: bool) -> Layout:
    """``layout[c][j] = (AI-wrong, AI-right)`` trials of arm ``arms[j]`` for a participant in condition ``c``
    (one condition per arm: the arms depend on the condition modulo their number), from the engine's draw."""
    wrong = n_wrong(trials, ai_wrong_share)
    ids = [f"wrong-{i}" for i in range(wrong)] + [f"right-{i}" for i in range(trials - wrong)]
    task = TaskConfig(name="power", protocol=DECISION, checkpoint="", stimuli_dir=None, stimuli_list=(),
                      trials=trials, decision=DecisionConfig(arms=tuple(arms), ai_wrong_share=ai_wrong_share),
                      stimuli=tuple(Stimulus(i, "", "x", "") for i in ids))
    preds = TaskPredictions("", {i: ModelOutput("x", 1.0, (), i.startswith("right")) for i in ids})
    layout = []
    for condition in range(len(arms)):
        drawn = draw_trials(task, preds, condition, within=within, rng=random.Random(condition))
        layout.append(tuple((sum(t.arm == arm and t.image_id.startswith("wrong") for t in drawn),
                             sum(t.arm == arm and t.image_id.startswith("right") for t in drawn)) for arm in arms))
    return tuple(layout)


def describe_layout(arms: tuple[str, ...], layout: Layout, within: bool) -> str:
    """A participant's trials per arm and how many are AI-wrong, e.g. ``1 per arm, 0 or 1 of them AI-wrong by
    condition (mean 0.50)``; between subjects only the participant's own arm counts."""
    cells = [(w, r) for row in layout for w, r in row if w + r or within]
    per_arm, wrong = sorted({w + r for w, r in cells}), sorted({w for w, _ in cells})
    where = "per arm" if within else "in their arm"
    text = f"{' or '.join(map(str, per_arm))} {where}{' by condition' if len(per_arm) > 1 else ''}, "
    if len(wrong) == 1:
        return text + f"{wrong[0]} of them AI-wrong"
    mean = sum(w for w, _ in cells) / len(cells)
    return text + f"{' or '.join(map(str, wrong))} of them AI-wrong by condition (mean {mean:.2f})"


@dataclass(frozen=True)
class DecisionFacts:
    """A study file's decision task: its design and, where the model could be run, its eligible pool."""

    task: str
    trials: int
    arms: tuple[str, ...]
    within: bool
    ai_wrong_share: float
    min_ai_confidence: float
    pool_wrong: int | None
    pool_right: int | None
    pool_source: str


def decision_facts(path: str | Path, task_name: str) -> DecisionFacts:
    """Load the study file, and predict ``task_name``'s stimuli with its checkpoint to count the pool. A study
    that does not load raises (:class:`~study_app.study.errors.StudyFileError`); a model that cannot be run
    leaves the pool unknown, with the reason in ``pool_source``."""
    study = load_study(path, check_images=False)
    task = next(t for t in study.tasks if t.name == task_name)
    cfg = task.decision
    try:
        preds = predict_task(task)
    except Exception as exc:  # noqa: BLE001 - any failure to run the model leaves the pool unknown, said why
        wrong = right = None
        source = f"pool unknown: the model could not be run ({type(exc).__name__}: {exc})"
    else:
        wrong, right = (len(ids) for ids in eligible(task, preds))
        source = (f"the task's stimuli ({len(task.stimuli)}) with advice at least {cfg.min_ai_confidence:.2f} "
                  f"confident, by the predictions of {_shown(task.checkpoint)} (weights "
                  f"{preds.checkpoint_sha256[:12]}), computed now as xai-study check does")
    return DecisionFacts(task=task.name, trials=task.trials, arms=cfg.arms, within=study.design.type == "within",
                         ai_wrong_share=cfg.ai_wrong_share, min_ai_confidence=cfg.min_ai_confidence,
                         pool_wrong=wrong, pool_right=right, pool_source=source)


def _shown(path: str) -> str:
    """``path`` relative to the working folder where it lies under it (shorter to read), else as is."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return path
