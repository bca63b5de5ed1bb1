"""The study file's ``[recruitment]`` table: caps per condition and in total, and the rules by which
``xai-study prolific`` settles submissions (approve, reject or ask to return, bonus)::

    [recruitment]
    prolific_study_id = "60aca280709ee40ec37d4885"   # the Prolific study (its %STUDY_ID%)
    cap_total = 120                    # optional: participants in all (completed or active, as balance counts)
    caps = { gradcam = 40, none = 40 } # optional: per condition label (between: the arm; within: latin-<r>)
    quota_full_code = "FULL01"         # optional: the code a visitor gets when the study or every condition is
                                       # full (default: screened_out_code; none: they are asked to return it)
    bonus_per_correct = 0.10           # optional: bonus in the study's currency per correct final answer
    bonus_max = 2.00                   # optional: at most this much per participant
    screened_out = "return"            # screened-out submissions: approve | return | reject | leave (default)
    no_consent = "return"              # submissions with the no-consent code: the same choices
    unmatched = "leave"                # submissions we hold no participant for: the same choices
    reject_message = "..."             # sent with a rejection: at least 100 characters (Prolific's rule)
    reject_category = "FAILED_CHECK"   # Prolific's rejection category
    return_reason = "..."              # the reason given when asking a participant to return the submission

A full condition takes no newcomers: assignment chooses among the conditions below their cap, and a study
whose every open condition (or whose total) is full turns a visitor away on the consent page, politely, with
``quota_full_code``. Counts are those of the assignment balance: completed and recently active participants,
never pilots (a screened-out, returned or timed-out participant frees their slot).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from study_app.study.errors import StudyFileError
from study_app.study.fields import Fields

ACTIONS = ("approve", "return", "reject", "leave")
# Prolific's rejection categories (transition-submission, action REJECT).
REJECTION_CATEGORIES = ("TOO_QUICKLY", "TOO_SLOWLY", "FAILED_INSTRUCTIONS", "INCOMP_LONGITUDINAL", "FAILED_CHECK",
                        "LOW_EFFORT", "MALINGERING", "NO_CODE", "BAD_CODE", "NO_DATA", "UNSUPP_DEVICE", "OTHER")
MIN_REJECT_MESSAGE = 100  # Prolific refuses a rejection message shorter than this
DEFAULT_RETURN_REASON = "Your submission did not complete the study, so we ask you to return it rather than reject it."


class QuotaFullError(RuntimeError):
    """Every condition a newcomer could get is at its cap, or the study is at its total cap."""


@dataclass(frozen=True)
class Recruitment:
    prolific_study_id: str | None = None
    cap_total: int | None = None
    caps: tuple[tuple[str, int], ...] = ()  # (condition label, cap) pairs
    quota_full_code: str | None = None
    bonus_per_correct: float | None = None
    bonus_max: float | None = None
    screened_out: str = "leave"
    no_consent: str = "leave"
    unmatched: str = "leave"
    reject_message: str | None = None
    reject_category: str = "FAILED_CHECK"
    return_reason: str = DEFAULT_RETURN_REASON

    @property
    def capped(self) -> bool:
        return self.cap_total is not None or bool(self.caps)

    def cap_of(self, label: str) -> int | None:
        """The cap of the condition labelled ``label`` (``None``: uncapped)."""
        return dict(self.caps).get(label)

    def open_conditions(self, labels: tuple[str, ...], counts: Mapping[int, int]) -> list[int]:
        """The conditions a newcomer may get (``counts``: participants per condition index as the balance
        counts them); empty when the total cap is reached or every condition is at its cap."""
        if self.cap_total is not None and sum(counts.values()) >= self.cap_total:
            return []
        caps = dict(self.caps)
        return [c for c, label in enumerate(labels) if label not in caps or counts.get(c, 0) < caps[label]]

    def choose(self, labels: tuple[str, ...], counts: Mapping[int, int]) -> int:
        """The least-filled open condition (ties: the lowest index), as :func:`assign_condition` balances.

        Raises:
            QuotaFullError: no condition is open.
        """
        open_ = self.open_conditions(labels, counts)
        if not open_:
            raise QuotaFullError("every condition is at its cap")
        return min(open_, key=lambda c: (counts.get(c, 0), c))


def parse_recruitment(r: Fields) -> Recruitment:
    """The ``[recruitment]`` table (its ``caps`` are checked against the conditions by :func:`unknown_caps`)."""
    study_id = r.text("prolific_study_id", None)
    cap_total = r.get("cap_total", int, None)
    if cap_total is not None and cap_total < 1:
        raise r.error("cap_total", f"must be a whole number >= 1, got {cap_total}")
    caps_raw = r.get("caps", dict, {})
    caps: dict[str, int] = {}
    for label, cap in caps_raw.items():
        if isinstance(cap, bool) or not isinstance(cap, int) or cap < 0:
            raise r.error(f"caps.{label}", f"must be a whole number >= 0, got {cap!r}")
        caps[label] = cap
    bonus = r.get("bonus_per_correct", (int, float), None)
    bonus_max = r.get("bonus_max", (int, float), None)
    for key, value in (("bonus_per_correct", bonus), ("bonus_max", bonus_max)):
        if value is not None and not 0 < value <= 100:
            raise r.error(key, "must be an amount above 0 and at most 100 (the study's currency)")
    rules = {}
    for key in ("screened_out", "no_consent", "unmatched"):
        rules[key] = r.text(key, "leave")
        if rules[key] not in ACTIONS:
            raise r.error(key, f"{rules[key]!r} is not one of {', '.join(ACTIONS)}")
    message = r.text("reject_message", None)
    if "reject" in rules.values() and (message is None or len(message.strip()) < MIN_REJECT_MESSAGE):
        raise r.error("reject_message", f"a rule rejects submissions, so a message of at least {MIN_REJECT_MESSAGE} "
                                        "characters is required (Prolific sends it to the participant)")
    category = r.text("reject_category", "FAILED_CHECK")
    if category not in REJECTION_CATEGORIES:
        raise r.error("reject_category", f"{category!r} is not one of {', '.join(REJECTION_CATEGORIES)}")
    out = Recruitment(prolific_study_id=study_id, cap_total=cap_total, caps=tuple(caps.items()),
                      quota_full_code=r.text("quota_full_code", None), bonus_per_correct=bonus, bonus_max=bonus_max,
                      reject_message=message, reject_category=category,
                      return_reason=r.text("return_reason", DEFAULT_RETURN_REASON), **rules)
    r.finish()
    return out


def unknown_caps(recruitment: Recruitment, labels: tuple[str, ...], source: str) -> list[StudyFileError]:
    """A problem for each ``caps`` key that names no condition of the study (``labels``)."""
    return [StudyFileError(source, f"recruitment.caps.{label}",
                           f"{label!r} is not a condition of this study ({', '.join(labels)})")
            for label, _cap in recruitment.caps if label not in labels]


def quota_full_code(study) -> str | None:
    """The code a visitor turned away by the caps takes back to Prolific: ``quota_full_code``, else the study's
    ``screened_out_code`` (``None``: no code; they are asked to return the study)."""
    return study.recruitment.quota_full_code or study.screened_out_code


def quota_rows(recruitment: Recruitment, counts: Mapping[str, int]) -> list[dict]:
    """The Progress page's table: per condition label (``counts``: as the balance counts them, in the engine's
    order) the count, its cap and whether it takes newcomers, then the total against ``cap_total``."""
    labels = tuple(counts)
    open_ = set(recruitment.open_conditions(labels, dict(enumerate(counts.values()))))
    rows = [{"condition": label, "counted": n, "cap": recruitment.cap_of(label),
             "open": i in open_} for i, (label, n) in enumerate(counts.items())]
    total = sum(counts.values())
    rows.append({"condition": "all", "counted": total, "cap": recruitment.cap_total, "open": bool(open_)})
    return rows
