"""Rate (the seed study's protocol): trust in the prediction first, then for each explanation whether it helped
or confused; the closing questions rank the methods seen and ask trust in each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from study_app.i18n import N_, translator
from study_app.study.answer_checks import int_in, no_extra, show
from study_app.study.errors import AnswerError
from study_app.study.protocols.base import Protocol, TrialContext
from study_app.study.steps import EFFECT_OPTIONS, PHASE_EXPLANATION, PHASE_TRUST, RATE, Question


class Rate(Protocol):
    name = RATE
    prompts = {
        PHASE_TRUST: N_("How much do you trust this prediction?"),
        PHASE_EXPLANATION: N_("For each explanation: did it help or confuse your understanding of the prediction?"),
    }
    displays = ("single", "side_by_side")
    outcome, likert = None, ()  # effect judgements per method: the analysis fits one model per method
    shows_topk = 3
    judges_each_method = True

    def arms_at(self, ctx: TrialContext, position: int) -> list[str]:
        return ctx.arms_at(position, all_arms=ctx.task.display == "side_by_side")

    def phases(self, ctx, image_id, group, arms):
        model = ctx.model(image_id).trimmed(3)
        maps = ctx.maps(image_id, arms)
        steps = [ctx.step(image_id, arms, group, PHASE_TRUST, model)]
        if maps:
            steps.append(ctx.step(image_id, arms, group, PHASE_EXPLANATION, model, maps))
        return steps

    def attention(self, ctx, check):
        high = ctx.task.scale[1]
        return {"trust": high}, ctx.translate.gettext("Attention check: please choose {value} on the scale.").format(
            value=high)

    def validate(self, step, answer: Mapping) -> dict:
        if step.phase == PHASE_TRUST:
            no_extra(answer, {"trust", "comment"})
            return {"trust": int_in("trust", answer.get("trust"), *step.scale)}
        no_extra(answer, {"effect", "comment"})
        effect = answer.get("effect")
        keys = [m.key for m in step.maps]
        if (not isinstance(effect, Mapping) or not all(isinstance(k, str) for k in effect)
                or sorted(effect) != sorted(keys)):
            raise AnswerError("effect", f"must give one of {', '.join(EFFECT_OPTIONS)} for each of {', '.join(keys)}")
        for key, value in effect.items():
            if not isinstance(value, str) or value not in EFFECT_OPTIONS:
                raise AnswerError(f"effect.{key}", f"{show(value)} is not one of {', '.join(EFFECT_OPTIONS)}")
        return {"effect": dict(effect)}

    def score(self, step, answer):
        return None

    def post_questions(self, study, arms_seen: Sequence[str]) -> list[Question]:
        """The seed study's closing questions: rank the methods seen (if more than one) and trust in each, in
        the study's language."""
        _ = translator(study.language).gettext
        seen = set(arms_seen)
        methods = [m for m in study.methods if m.key in seen]  # file order, whatever order they were shown in
        questions = []
        if len(methods) > 1:
            questions.append(Question(id="method_rank", text=_("Rank the explanations from most to least useful."),
                                      kind="rank", options=tuple(m.label for m in methods)))
        for m in methods:
            questions.append(Question(id=f"trust_{m.key}",
                                      text=_("How much do you trust explanations by {label}?").format(label=m.label),
                                      kind="likert", low=1, high=7, options=(_("not at all"), _("completely"))))
        return questions

