"""The synthetic participants' behaviour model, from a small TOML file and/or command-line flags.

Definitions (what each number plants; the export's measures recover them):

* ``accuracy`` (and per arm key in ``[accuracy_by_arm]``): the probability that a participant's **own**
  judgement on a trial with a right answer is right: the answer given without the AI's advice (forward
  simulation, distinction, a decision's initial answer and its ``human`` arm) and, unless following is planted,
  every answer. The arm key is the trial's arm (decision) or the maps shown (``none`` for the control; several
  joined by ``+``).
* ``follow_when_right`` / ``follow_when_wrong``: where the AI's answer is shown (decision with advice,
  verification), the probability that a participant whose own judgement differs from the AI's adopts the AI's
  answer, when the AI is right / wrong. In a two-step decision study these are RAIR (when right, two classes)
  and 1 - RSR (when wrong) of Schemmer et al. 2023; agreement with a wrong AI (over-reliance) is
  ``follow_when_wrong + (1 - follow_when_wrong) * P(own judgement agrees with the wrong AI)``. Unset: the own
  judgement decides everywhere.
* ``response_time``: seconds per step, lognormal with this ``mean`` and ``sd`` (the stored times are these).
* ``attention_failure``: probability of failing each attention check; ``dropout``: share of participants who
  stop at a random step after consent; ``straight_liners``: share who give the same scale position on every
  Likert, trust and confidence item; ``arrival_seconds``: mean gap between arrivals (exponential).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


class BehaviourError(ValueError):
    """A behaviour file or flag that cannot be used; the message names it."""


@dataclass(frozen=True)
class Behaviour:
    accuracy: float = 0.75
    accuracy_by_arm: dict[str, float] = field(default_factory=dict)
    follow_when_right: float | None = None
    follow_when_wrong: float | None = None
    rt_mean: float = 8.0
    rt_sd: float = 4.0
    attention_failure: float = 0.05
    dropout: float = 0.1
    straight_liners: float = 0.05
    arrival_seconds: float = 30.0
    seed: int = 0

    def accuracy_for(self, arm: str) -> float:
        return self.accuracy_by_arm.get(arm, self.accuracy)

    def lognormal(self) -> tuple[float, float]:
        """``(mu, sigma)`` of the log response time giving mean ``rt_mean`` and SD ``rt_sd``."""
        sigma2 = math.log(1 + (self.rt_sd / self.rt_mean) ** 2)
        return math.log(self.rt_mean) - sigma2 / 2, math.sqrt(sigma2)

    def checked(self) -> Behaviour:
        probabilities = {"accuracy": self.accuracy, "attention_failure": self.attention_failure,
                         "dropout": self.dropout, "straight_liners": self.straight_liners,
                         "follow_when_right": self.follow_when_right, "follow_when_wrong": self.follow_when_wrong,
                         **{f"accuracy_by_arm.{k}": v for k, v in self.accuracy_by_arm.items()}}
        for name, value in probabilities.items():
            if value is not None and not (isinstance(value, (int, float)) and 0 <= value <= 1):
                raise BehaviourError(f"{name} must be a probability from 0 to 1, got {value!r}")
        if not self.rt_mean > 0 or not self.rt_sd >= 0:
            raise BehaviourError(f"response_time needs mean > 0 and sd >= 0, got {self.rt_mean!r}, {self.rt_sd!r}")
        if not self.arrival_seconds >= 0:
            raise BehaviourError(f"arrival_seconds must be >= 0, got {self.arrival_seconds!r}")
        return self


KNOWN = {f.name for f in fields(Behaviour)} - {"rt_mean", "rt_sd"} | {"response_time"}


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BehaviourError(f"{name} must be a number, got {value!r}")
    return float(value)


def read_behaviour(path: Path | None) -> Behaviour:
    """The behaviour file's model (defaults where it says nothing); no file: the defaults."""
    if path is None:
        return Behaviour()
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise BehaviourError(f"{path}: {exc}") from exc
    unknown = sorted(set(data) - KNOWN)
    if unknown:
        raise BehaviourError(f"{path}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(KNOWN))})")
    values: dict = {}
    for key, value in data.items():
        if key == "response_time":
            if not isinstance(value, dict) or set(value) - {"mean", "sd"}:
                raise BehaviourError(f"{path}: response_time is a table with mean and sd (seconds)")
            values.update({f"rt_{k}": _number(f"response_time.{k}", v) for k, v in value.items()})
        elif key == "accuracy_by_arm":
            if not isinstance(value, dict):
                raise BehaviourError(f"{path}: accuracy_by_arm is a table of arm = probability")
            values[key] = {str(k): _number(f"accuracy_by_arm.{k}", v) for k, v in value.items()}
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int):
                raise BehaviourError(f"{path}: seed must be a whole number, got {value!r}")
            values[key] = value
        else:
            values[key] = _number(key, value)
    return replace(Behaviour(), **values).checked()


def parse_arm_accuracy(items: list[str] | None) -> dict[str, float]:
    """``["gradcam=0.9", "none=0.6"]`` -> ``{"gradcam": 0.9, "none": 0.6}``."""
    out = {}
    for item in items or ():
        arm, sep, value = item.partition("=")
        try:
            out[arm.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not arm.strip():
            raise BehaviourError(f"--arm-accuracy expects ARM=PROBABILITY, got {item!r}")
    return out


def with_flags(base: Behaviour, **flags) -> Behaviour:
    """``base`` with every flag that was given (not ``None``) put over it; ``accuracy_by_arm`` entries merge."""
    given = {k: v for k, v in flags.items() if v is not None and k != "accuracy_by_arm"}
    arms = {**base.accuracy_by_arm, **(flags.get("accuracy_by_arm") or {})}
    return replace(base, **given, accuracy_by_arm=arms).checked()
