"""A synthetic participant's answer to whatever step the engine shows, from the behaviour model.

Nothing here names a protocol. A trial's candidate answers are built from the step's own options and scale in
the shapes trial answers take, and the engine's checks keep those the step's protocol accepts
(:func:`study_app.study.answers.validate_trial`); the protocol's score (:func:`~study_app.study.answers.score_trial`)
then says which are right and which pass an attention check. A phase the protocol does not score (a decision's
initial answer) is right when its class answer (the protocol's ``class_answers``) is the class that makes the
trial's scored phase right. An answer agrees with the AI when its class answer is the shown prediction, or, for
protocols without class answers (accept or reject), when it is right exactly when the AI is.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field

from study_app.simulate.behaviour import Behaviour
from study_app.study import answers as checks
from study_app.study.errors import AnswerError
from study_app.study.plan import TrialStep
from study_app.study.protocols import protocol_of
from study_app.study.steps import EFFECT_OPTIONS, VERIFICATION_DECISIONS, Question, Step

CONSENT_WIDTH = 1440  # px the synthetic browser window reports at consent


@dataclass
class Candidate:
    answer: dict
    correct: bool | None
    passed: bool | None
    value: str | None  # the class it names (the protocol's class answer), if any


@dataclass
class Participant:
    """One synthetic participant's traits and what they have judged so far."""

    behaviour: Behaviour
    rng: random.Random
    straight: float | None  # a straight-liner's scale position (0 low .. 1 high); None: answers vary
    own: dict[int, Candidate] = field(default_factory=dict)  # trial index -> own judgement

    def scale(self, low: int, high: int) -> int:
        if self.straight is not None:
            return low + round(self.straight * (high - low))
        return self.rng.randint(low, high)

    def chance(self, p: float | None) -> bool:
        return p is not None and self.rng.random() < p


def consent(study) -> dict:
    width = max(CONSENT_WIDTH, study.device.min_viewport_width or 0)
    return {"agree": True, "viewport_width": width, "user_agent": "xai-study simulate (synthetic participant)"}


def questionnaire(questions: Sequence[Question], who: Participant) -> dict:
    out: dict = {}
    for q in questions:
        if q.kind == "choice":
            out[q.id] = q.correct if q.correct is not None else who.rng.choice(q.options)
        elif q.kind == "likert":
            out[q.id] = who.scale(q.low, q.high)
        elif q.kind == "rank":
            out[q.id] = who.rng.sample(list(q.options), len(q.options))
        elif q.kind == "number":
            low, high = q.low if q.low is not None else 0, q.high if q.high is not None else 100
            out[q.id] = who.rng.randint(int(low), int(high))
        else:
            out[q.id] = "synthetic participant"
    return out


def _shapes(ps: TrialStep, confidence: int, rng: random.Random, request_ms: int) -> list[dict]:
    """Every shape a trial answer takes, filled from the step's options and scale."""
    shapes: list[dict] = [{}, {"trust": confidence},
                          {"effect": {m.key: rng.choice(EFFECT_OPTIONS) for m in ps.maps}}]
    shapes += [{"decision": d, "confidence": confidence} for d in VERIFICATION_DECISIONS]
    for option in ps.options:
        shapes.append({"choice": option, "confidence": confidence})
        own = {ps.phase: option, f"confidence_{ps.phase}": confidence}
        shapes += [own, {**own, "advice_requested": True, "advice_requested_ms": request_ms}]
    return shapes


def candidates(ps: TrialStep, confidence: int, rng: random.Random, request_ms: int = 0) -> list[Candidate]:
    """The answers the step's protocol accepts, each scored by it."""
    keys = protocol_of(ps.protocol).class_answers
    out = []
    for shape in _shapes(ps, confidence, rng, request_ms):
        try:
            clean = checks.validate_trial(ps, shape)
        except AnswerError:
            continue
        correct, passed = checks.score_trial(ps, clean)
        if ps.is_attention_check:
            correct = protocol_of(ps.protocol).score(ps, clean)
        value = next((clean[k] for k in keys if k in clean), None)
        out.append(Candidate(shape, correct, passed, value))
    return out


def _right_values(siblings: Sequence[TrialStep]) -> set[str]:
    """The classes that make the trial's scored phase right (for a phase the protocol does not score)."""
    found: set[str] = set()
    for sibling in siblings:
        for c in candidates(sibling, sibling.scale[0], random.Random(0)):
            if c.correct and c.value is not None:
                found.add(c.value)
    return found


def _agrees(c: Candidate, ps: TrialStep) -> bool:
    if c.value is not None:
        return c.value == ps.prediction.label
    return c.correct is not None and c.correct == ps.model.correct


def trial_answer(ps: TrialStep, siblings: Sequence[TrialStep], who: Participant, seconds: float) -> dict:
    """The participant's answer to plan step ``ps`` (``siblings``: the trial's other phases)."""
    rng, b = who.rng, who.behaviour
    pool = candidates(ps, who.scale(*ps.scale), rng, request_ms=int(seconds * 300))
    if not pool:
        raise RuntimeError(f"no answer of the simulator fits {ps.step_id} ({ps.protocol}/{ps.phase})")
    if ps.is_attention_check:
        fail = who.chance(b.attention_failure)
        keep = [c for c in pool if c.passed is (not fail)]
        return rng.choice(keep or pool).answer
    if all(c.correct is None for c in pool):
        right = _right_values(siblings)
        for c in pool:
            c.correct = (c.value in right) if right and c.value is not None else None
    if all(c.correct is None for c in pool):  # no right answer (rate; a learning phase)
        return rng.choice(pool).answer
    own = who.own.get(ps.trial)
    if own is None:  # the participant's own judgement of this trial, drawn once
        right = rng.random() < b.accuracy_for("+".join(ps.arms))
        own = rng.choice([c for c in pool if c.correct is right] or pool)
        who.own[ps.trial] = own
    mine = [c for c in pool if (c.value == own.value if own.value is not None else c.correct == own.correct)]
    shown = ps.prediction is not None and protocol_of(ps.protocol).reliance
    follow = b.follow_when_right if ps.model.correct else b.follow_when_wrong
    if shown and follow is not None and not any(_agrees(c, ps) for c in mine) and who.chance(follow):
        mine = [c for c in pool if _agrees(c, ps)] or mine
    return rng.choice(mine or pool).answer


def answer(step: Step, plan_steps: dict[str, TrialStep], study, who: Participant, seconds: float) -> dict:
    """A valid answer to any step the engine shows."""
    if step.kind == "consent":
        return consent(study)
    if step.kind == "instructions":  # comprehension questions answered right
        return {q.id: q.correct for q in step.questions}
    if step.kind in ("pre_questionnaire", "arm_questionnaire", "post_questionnaire", "hive_before", "hive_after",
                     "hive_reveal"):
        return questionnaire(step.questions, who)
    ps = plan_steps[step.step_id]
    siblings = [s for s in plan_steps.values() if s.trial == ps.trial and s.phase != ps.phase]
    return trial_answer(ps, siblings, who, seconds)
