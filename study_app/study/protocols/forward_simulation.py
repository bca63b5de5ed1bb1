"""Forward simulation (Doshi-Velez & Kim 2017; Hase & Bansal 2020): learn from the model's predictions with their
explanations, then predict what the model will say for new images without either."""

from __future__ import annotations

from study_app.i18n import N_
from study_app.study.protocols.base import Protocol
from study_app.study.steps import FORWARD_SIMULATION, PHASE_LEARN, PHASE_PREDICT


class ForwardSimulation(Protocol):
    name = FORWARD_SIMULATION
    prompts = {PHASE_LEARN: N_("Study the model's prediction and its explanation."),
               PHASE_PREDICT: N_("What will the model predict for this image?")}
    fields = ("learning_trials",)
    balance_by_correctness = True
    class_answers = ("choice",)

    def parse_fields(self, f, trials):
        learning = f.positive_int("learning_trials", 0, minimum=0)
        if learning == 0:
            raise f.error("learning_trials", "forward_simulation needs at least one learning trial")
        return {"learning_trials": learning}

    def count_field(self, task):
        return "learning_trials"

    def phases(self, ctx, image_id, group, arms):
        if group == "learn":
            return [ctx.step(image_id, arms, group, PHASE_LEARN, ctx.model(image_id).trimmed(1), ctx.maps(image_id, arms))]
        return [ctx.step(image_id, arms, group, PHASE_PREDICT, None, options=tuple(ctx.task.class_names))]
