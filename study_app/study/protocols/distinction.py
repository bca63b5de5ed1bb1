"""Distinction (Kim et al. 2022, HIVE): one map per candidate class (the model's top k, in a participant-specific
order), and the participant names the class the model predicted."""

from __future__ import annotations

from study_app.i18n import N_
from study_app.study.protocols.base import Protocol
from study_app.study.steps import DISTINCTION, PHASE_MAIN


class Distinction(Protocol):
    name = DISTINCTION
    prompts = {PHASE_MAIN: N_("Each explanation is about one candidate class. Which class did the model predict?")}
    fields = ("k",)
    class_answers = ("choice",)
    maps_explain_options = True

    def parse_fields(self, f, trials):
        return {"k": f.positive_int("k", 2, minimum=2)}

    def check_loaded(self, task, class_names):
        if task.k > len(class_names):
            return [("k", f"{task.k} candidates but the model has {len(class_names)} classes")]
        return []

    def phases(self, ctx, image_id, group, arms):
        options = [label for label, _ in ctx.model(image_id).topk[: ctx.task.k]]
        ctx.rng.shuffle(options)
        return [ctx.step(image_id, arms, group, PHASE_MAIN, None, ctx.maps(image_id, arms, options), tuple(options))]

    def map_targets(self, task, preds, stim):
        return [label for label, _ in preds.by_image[stim.image_id].topk[: task.k]]
