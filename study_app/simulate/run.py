"""Drive synthetic participants through a real :class:`~study_app.study.engine.StudyEngine` on a simulated clock.

Participants arrive at exponential gaps (``arrival_seconds``) and take each step after a lognormal response time;
the clock jumps from one event to the next, so the engine stores exactly the simulated times and several
participants are in progress at once, as in a live study (assignment sees them as active). Everyone who consents
is enrolled ``synthetic``.
"""

from __future__ import annotations

import datetime as dt
import heapq
import json
import random
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from study_app.simulate.answers import Participant, answer
from study_app.simulate.behaviour import Behaviour
from study_app.study.completion import expects_prolific_id
from study_app.study.plan import Plan
from study_app.study.steps import DONE, SCREENED_OUT


class SimulatedClock:
    """The engine's clock: the simulated time of the event being processed."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Walker:
    """One synthetic participant on their way through the study."""

    index: int
    who: Participant
    token: str
    step: object = None
    plan_steps: dict = field(default_factory=dict)
    stop_after: int | None = None  # steps answered before dropping out; None: stays to the end
    answered: int = 0
    public_id: str | None = None
    outcome: str = "active"
    seconds: float = 0.0  # the response time of the step on screen


@dataclass
class Outcome:
    completed: int = 0
    dropped_out: int = 0
    screened_out: int = 0
    participants: list[str] = field(default_factory=list)  # public ids, in arrival order
    started: dt.datetime | None = None
    ended: dt.datetime | None = None


def _walker(engine, index: int, behaviour: Behaviour, rng: random.Random) -> Walker:
    straight = rng.random() if rng.random() < behaviour.straight_liners else None
    ids = {"PROLIFIC_PID": f"synthetic-{secrets.token_hex(8)}"} if expects_prolific_id(engine.study) else None
    token = engine.start_or_resume(None, external_ids=ids)
    return Walker(index, Participant(behaviour, random.Random(rng.random()), straight), token,
                  step=engine.current_step(token))


def _enrolled(engine, w: Walker, rng: random.Random) -> None:
    """After consent: the participant's plan (their trials, with what is right) and the step they would stop at."""
    record = engine.identities.participant(w.token)
    w.public_id = record.public_id
    plan = Plan.from_json(json.loads(engine.repository.plan_json(record.id)))
    w.plan_steps = {s.step_id: s for s in plan.trial_steps}
    remaining = len(engine.stages(plan).kinds) - 1  # the pages to answer, every kind of step counted (not the end)
    if rng.random() < w.who.behaviour.dropout:
        w.stop_after = rng.randint(1, max(1, remaining - 2))


def simulate(engine, clock: SimulatedClock, n: int, behaviour: Behaviour,
             progress: Callable[[str], None] = lambda _: None) -> Outcome:
    """Walk ``n`` synthetic participants through ``engine`` (whose clock is ``clock``) and say how they ended."""
    rng = random.Random(behaviour.seed)
    mu, sigma = behaviour.lognormal()
    out = Outcome(started=clock.now)
    events: list[tuple[dt.datetime, int, Walker | None]] = []
    arrival = clock.now
    for i in range(n):
        heapq.heappush(events, (arrival, i, None))
        arrival += dt.timedelta(seconds=rng.expovariate(1 / behaviour.arrival_seconds) if behaviour.arrival_seconds else 0)
    walkers: dict[int, Walker] = {}
    finished = 0
    while events:
        at, i, _ = heapq.heappop(events)
        clock.now = at
        w = walkers.get(i)
        if w is None:  # arrives: the consent page is shown now, answered after a response time
            w = walkers[i] = _walker(engine, i, behaviour, rng)
        elif w.stop_after is not None and w.answered >= w.stop_after:
            w.outcome = "dropped out"
            out.dropped_out += 1
        else:
            reply = engine.submit(w.token, w.step.step_id, answer(w.step, w.plan_steps, engine.study, w.who, w.seconds),
                                  synthetic=True)
            w.answered += 1
            if w.public_id is None:
                _enrolled(engine, w, rng)
                out.participants.append(w.public_id)
            w.step = reply
            if reply.kind in (DONE, SCREENED_OUT):
                w.outcome = "completed" if reply.kind == DONE else "screened out"
                out.completed += reply.kind == DONE
                out.screened_out += reply.kind == SCREENED_OUT
        if w.outcome == "active":
            w.seconds = rng.lognormvariate(mu, sigma)
            heapq.heappush(events, (at + dt.timedelta(seconds=w.seconds), i, None))
        else:
            finished += 1
            if finished % max(1, n // 10) == 0 or finished == n:
                progress(f"{finished}/{n} participants finished ({out.completed} completed, "
                         f"{out.dropped_out} dropped out, {out.screened_out} screened out)")
    out.ended = clock.now
    return out

