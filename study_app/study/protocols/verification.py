"""Verification: accept or reject the model's prediction, with confidence. Items are balanced by whether the
model is right, since a study where the model is always right cannot tell trust from agreement."""

from __future__ import annotations

from study_app.i18n import N_
from study_app.study.answer_checks import int_in, no_extra
from study_app.study.errors import AnswerError
from study_app.study.protocols.base import Protocol
from study_app.study.steps import DECISION_LABELS, PHASE_MAIN, VERIFICATION, VERIFICATION_DECISIONS


class Verification(Protocol):
    name = VERIFICATION
    prompts = {PHASE_MAIN: N_("Is the model's prediction correct? Accept or reject it, and say how confident you are.")}
    balance_by_correctness = True
    reliance = "accept_reject"

    def phases(self, ctx, image_id, group, arms):
        return [ctx.step(image_id, arms, group, PHASE_MAIN, ctx.model(image_id).trimmed(1), ctx.maps(image_id, arms))]

    def attention(self, ctx, check):
        t = ctx.translate
        verdict = ctx.rng.choice(VERIFICATION_DECISIONS)
        # TRANSLATORS: {label} is the answer as its radio button reads it (e.g. "Yes, the prediction is correct").
        prompt = t.gettext("Attention check: please choose “{label}” whatever the image shows.").format(
            label=t.gettext(DECISION_LABELS[verdict]))
        return {"decision": verdict}, prompt

    def validate(self, step, answer):
        no_extra(answer, {"decision", "confidence", "comment"})
        if not isinstance(answer.get("decision"), str) or answer["decision"] not in VERIFICATION_DECISIONS:
            raise AnswerError("decision", f"must be one of {', '.join(VERIFICATION_DECISIONS)}")
        return {"decision": answer["decision"], "confidence": int_in("confidence", answer.get("confidence"), *step.scale)}

    def score(self, step, answer):
        """Right when the participant accepts a right prediction or rejects a wrong one."""
        return (answer["decision"] == "accept") == step.model.correct
