"""The researcher's preview: the study as a participant of a chosen condition would see it, built in memory.

Nothing is stored and nobody is enrolled: the plan is drawn exactly as :func:`study_app.study.design.build_plan`
draws it for a participant, and :meth:`study_app.study.engine.StudyEngine.step_at` turns any of its stages
into the step the participant pages draw, so a researcher can jump to any step.
"""

from __future__ import annotations

from study_app.study.design import build_plan
from study_app.study.plan import StagePlan


def preview_plan(engine, condition: int, seed: int = 0) -> StagePlan:
    """Condition ``condition``'s plan for the participant seed ``seed`` (stage 0 is consent)."""
    if not 0 <= condition < len(engine.conditions):
        raise ValueError(f"condition {condition} does not exist (0 to {len(engine.conditions) - 1})")
    plan = build_plan(engine.study, engine.items, engine.predictions, condition, seed)
    return engine.stages(plan)


def stage_labels(plan: StagePlan) -> list[str]:
    """One label per stage for a picker: ``"3 · trial:0/main"``."""
    return [f"{i} · {plan.step_id(i)}" for i in range(len(plan.kinds))]
