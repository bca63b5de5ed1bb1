"""One participant's answers to an instrument scored as published: reverse coding, subscales, totals.

A missing or out-of-range answer makes every score that needs it NaN, with a note saying which item and
why: none of these scales' published rules prorates a partial answer set, so no partial mean is returned.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from study_app.study.instruments.expand import get_instrument
from study_app.study.instruments.model import MEAN, SUM_X2_5, TIMES_5, Instrument, Subscale


def item_value(instrument: Instrument, value: Any) -> tuple[float | None, str | None]:
    """``(value, None)`` for an answer on the scale, else ``(None, why)``; a CSV's ``"3"`` counts as 3."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None, "missing"
    if isinstance(value, bool):
        return None, f"{value!r} is not a number"
    if isinstance(value, str):
        if not value.strip():
            return None, "missing"
        try:
            value = float(value)
        except ValueError:
            return None, f"{value!r} is not a number"
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None, f"{value!r} is not a number"
    if not (instrument.low <= number <= instrument.high and number == int(number)):
        return None, f"{value!r} is not an answer on the {instrument.low}-{instrument.high} scale"
    return number, None


def _combine(instrument: Instrument, subscale: Subscale, coded: list[float]) -> float:
    if subscale.rule == MEAN:
        return sum(coded) / len(coded)
    if subscale.rule == SUM_X2_5:
        return 2.5 * sum(v - instrument.low for v in coded)
    if subscale.rule == TIMES_5:
        return 5.0 * sum(coded) / len(coded)
    raise ValueError(f"unknown scoring rule {subscale.rule!r}")


def score_instrument(name: str, answers: Mapping[str, Any], *, id_prefix: str | None = None) -> dict[str, Any]:
    """Every score of instrument ``name`` from ``answers`` (question id ``<id_prefix>_<key>`` -> value, as the
    study stores them; the prefix defaults to the name).

    Returns ``{subscale: float}`` in the instrument's order; a score that cannot be computed is ``nan`` and
    comes with ``{subscale}_note`` naming the items at fault.
    """
    instrument = get_instrument(name)
    prefix = name if id_prefix is None else id_prefix
    values: dict[str, float] = {}
    problems: dict[str, str] = {}
    for key in instrument.keys:
        value, why = item_value(instrument, answers.get(f"{prefix}_{key}"))
        if why is None:
            values[key] = value
        else:
            problems[key] = why
    scores: dict[str, Any] = {}
    for sub in instrument.subscales:
        faults = [f"{prefix}_{k} {problems[k]}" for k in sub.keys if k in problems]
        if faults:
            scores[sub.name] = math.nan
            scores[f"{sub.name}_note"] = "; ".join(faults) + " (the published rule does not prorate)"
        else:
            scores[sub.name] = _combine(instrument, sub, [instrument.coded(k, values[k], sub) for k in sub.keys])
    return scores
