"""Bot and LLM-agent signals: what a person, or only an automated agent, leaves in the browser on a step.

Flags, never exclusion: the export carries the columns and the flags, the Progress page lists the flags, and the
researcher decides (and reports the rule). Each answered step (a trial phase or a questionnaire page) gets, from
the browser (:mod:`study_app.ui.browser`, ``page_signals.js``), counted while its form was on screen in the page
load it was submitted from (a reload starts these afresh), and sent with the submitted form (no script run of
its own):

* ``pointer_moves``: pointer (mouse, pen, touch) move events; ``pointer_path_px``: the length of the pointer's
  path, the sum of the straight distances between successive move positions in CSS pixels (rounded);
  ``pointer_clicks``: pointer presses (clicks, taps); ``key_presses``: key presses anywhere on the page (auto-repeat
  not counted) — a keyboard-only participant has these and no pointer;
* ``untrusted_events``: pointer, click, key and input events the browser marks as not made by the user
  (``isTrusted`` false: dispatched by a script). Reported, never flagged (some extensions dispatch them too);
* in the step's free-text fields (``text_fields``: how many; a text area or text input): ``paste_count`` and
  ``pasted_chars`` (paste events and the characters they carried), ``typed_chars`` (characters entered by
  typing: ``insertText`` and line-break input events), ``key_intervals``, ``key_interval_median_ms`` and
  ``key_interval_iqr_ms``: the typing cadence, from the intervals between successive key presses in the same
  field (modifier keys, Tab, Ctrl/Cmd shortcuts and auto-repeat left out, intervals over :data:`PAUSE_MS` left
  out as pauses); the median and the interquartile range Q3 − Q1 (quartiles by linear interpolation, R's type 7
  and numpy's default), in ms rounded to 0.1, empty below two intervals. Only the figures are stored, never the
  keys or the intervals (keystroke timing can identify a person);
* ``honeypot``: whether the step's hidden item was answered. It is an instruction and a text field that people
  never meet (visually hidden, ``aria-hidden``, ``inert``, out of the tab order, so screen readers and keyboards
  skip it) but that an agent reading the page's DOM sees: it asks an AI agent to type a word into it;
* the device, so that analyses can compare phones with computers: ``viewport_width`` and ``viewport_height``,
  the browser window's inner size in CSS pixels when the form was sent (a trial: its last phase's; a
  participant: the median over their steps), and ``touch_screen``, whether the primary pointer is coarse (CSS
  ``pointer: coarse``: a finger) — a participant's is true when any step's was. Not flags.

A step without free-text fields has its text columns empty (not zero); a step the browser sent nothing for (a
simulated participant, an answer stored before migration 0007) has every column empty and no flag.

The flags (``True``, ``False`` or empty when the rule cannot be judged), with their rules in :class:`BotRules`:

* ``flag_no_pointer_no_keys``: no pointer move, no press and no key press on the step — the form was submitted
  without any input a person makes (a keyboard-only or touch participant is not flagged);
* ``flag_paste``: at least ``paste_min_chars`` characters pasted into free text (empty without a text field);
* ``flag_uniform_cadence``: machine-regular typing — at least ``cadence_min_intervals`` intervals and an
  interquartile range at most ``cadence_max_iqr_ratio`` of the median (empty with fewer intervals);
* ``flag_honeypot``: the hidden item was answered.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from study_app.store.records import (
    BOT_CADENCE_COLUMNS,
    BOT_COUNT_COLUMNS,
    BOT_DEVICE_COLUMNS,
    BOT_SIGNAL_COLUMNS,
)

PAUSE_MS = 2000  # a longer gap between two keys is a pause (thinking), not typing cadence
MAX_INTERVALS = 2000  # the browser keeps at most this many intervals per step
MAX_COUNT = 10**9
TEXT_COLUMNS = ("paste_count", "pasted_chars", "typed_chars", "key_intervals", *BOT_CADENCE_COLUMNS)
FLAGS = ("flag_no_pointer_no_keys", "flag_paste", "flag_uniform_cadence", "flag_honeypot")
TRIAL_COLUMNS = (*BOT_SIGNAL_COLUMNS, *FLAGS)
# The quality_flags name of each flag (participants export, Progress page).
FLAG_NAMES = {flag: flag.removeprefix("flag_") for flag in FLAGS}
PARTICIPANT_COLUMNS = ("bot_signal_steps", *BOT_DEVICE_COLUMNS, "pointer_moves", "pointer_clicks", "key_presses", "untrusted_events",
                       "paste_count", "pasted_chars", "typed_chars", *(f"{flag}_steps" for flag in FLAGS), *FLAGS)


@dataclass(frozen=True)
class BotRules:
    """When a step gets a flag (defaults a researcher reads in the export's documentation)."""

    paste_min_chars: int = 20  # a pasted word or name is not flagged; a pasted sentence is
    cadence_min_intervals: int = 20  # fewer intervals say too little about the cadence
    cadence_max_iqr_ratio: float = 0.1  # human typing varies far more (IQR commonly 40-80 % of the median)


def cadence(intervals: Iterable[float]) -> tuple[float | None, float | None]:
    """The median and interquartile range (Q3 − Q1, linear interpolation: R type 7) of inter-key intervals in
    ms, rounded to 0.1 ms; ``(None, None)`` below two intervals."""
    values = sorted(float(v) for v in intervals)
    if len(values) < 2:
        return None, None
    q1, _, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return round(statistics.median(values), 1), round(q3 - q1, 1)


def _count(value) -> int:
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value) and 0 <= value < MAX_COUNT else 0


def summarise(raw: Mapping | None) -> dict | None:
    """The stored bot signals (:data:`BOT_SIGNAL_COLUMNS`) from what the browser sent (its counts, the list of
    inter-key intervals ``key_interval_list`` and ``honeypot``); ``None`` when it sent none of them (a page from
    before these signals). Anything malformed counts as zero; intervals outside 0..:data:`PAUSE_MS` are dropped."""
    if not isinstance(raw, Mapping) or "pointer_moves" not in raw:
        return None
    out = {name: _count(raw.get(name)) for name in BOT_COUNT_COLUMNS}
    given = raw.get("key_interval_list")
    intervals = [float(v) for v in (given if isinstance(given, list) else [])[:MAX_INTERVALS]
                 if isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v) and 0 <= v <= PAUSE_MS]
    out["key_intervals"] = len(intervals)
    out["key_interval_median_ms"], out["key_interval_iqr_ms"] = cadence(intervals)
    out["honeypot"] = raw.get("honeypot") is True
    out.update({name: _size(raw.get(name)) for name in ("viewport_width", "viewport_height")})
    touch = raw.get("touch_screen")
    out["touch_screen"] = touch if isinstance(touch, bool) else None
    return out


def _size(value) -> int | None:
    """A window size in CSS px, or ``None`` when missing or not a plausible one."""
    return int(value) if isinstance(value, int | float) and not isinstance(value, bool) and \
        math.isfinite(value) and 0 < value < 100_000 else None


def step_flags(signals: Mapping | None, rules: BotRules) -> dict:
    """One step's flags (:data:`FLAGS`): all ``None`` without signals."""
    if not signals:
        return dict.fromkeys(FLAGS)
    text = (signals.get("text_fields") or 0) > 0
    judged = text and (signals.get("key_intervals") or 0) >= rules.cadence_min_intervals \
        and signals.get("key_interval_median_ms") is not None
    return {
        "flag_no_pointer_no_keys": not any(signals.get(n) for n in ("pointer_moves", "pointer_clicks", "key_presses")),
        "flag_paste": (signals.get("pasted_chars") or 0) >= rules.paste_min_chars if text else None,
        "flag_uniform_cadence": (signals["key_interval_iqr_ms"] <= rules.cadence_max_iqr_ratio
                                 * signals["key_interval_median_ms"]) if judged else None,
        "flag_honeypot": bool(signals.get("honeypot")),
    }


def _any(values: Iterable[bool | None]) -> bool | None:
    """True if any is true, False if all judged ones are false, ``None`` if none was judged."""
    judged = [v for v in values if v is not None]
    return any(judged) if judged else None


def trial_columns(phases: list[Mapping], rules: BotRules) -> dict:
    """A trial's bot columns over its phases' signals (the stored rows' ``signals``): counts summed, the cadence
    of the phase with the most intervals, a flag set when any phase's is. All empty without signals."""
    if not phases:
        return dict.fromkeys(TRIAL_COLUMNS)
    row = {name: sum(p.get(name) or 0 for p in phases) for name in BOT_COUNT_COLUMNS}
    most = max(phases, key=lambda p: p.get("key_intervals") or 0)
    row.update({name: most.get(name) for name in BOT_CADENCE_COLUMNS})
    row["honeypot"] = any(p.get("honeypot") for p in phases)
    row.update({name: phases[-1].get(name) for name in BOT_DEVICE_COLUMNS})
    if not row["text_fields"]:
        row.update(dict.fromkeys(TEXT_COLUMNS))
    flags = [step_flags(p, rules) for p in phases]
    row.update({flag: _any(f[flag] for f in flags) for flag in FLAGS})
    return row


def participant_columns(steps: list[Mapping], rules: BotRules) -> dict:
    """One participant's bot summary over every answered step with signals (trial phases and questionnaire
    pages): counts summed, per flag the number of steps it was raised on and whether any was (empty when no
    step could be judged). All empty without signals."""
    if not steps:
        return dict.fromkeys(PARTICIPANT_COLUMNS)
    text = [s for s in steps if s.get("text_fields")]
    row: dict = {"bot_signal_steps": len(steps)}
    widths = [s["viewport_width"] for s in steps if s.get("viewport_width")]
    heights = [s["viewport_height"] for s in steps if s.get("viewport_height")]
    row["viewport_width"] = round(statistics.median(widths)) if widths else None
    row["viewport_height"] = round(statistics.median(heights)) if heights else None
    row["touch_screen"] = _any(s.get("touch_screen") for s in steps)
    for name in ("pointer_moves", "pointer_clicks", "key_presses", "untrusted_events"):
        row[name] = sum(s.get(name) or 0 for s in steps)
    for name in ("paste_count", "pasted_chars", "typed_chars"):
        row[name] = sum(s.get(name) or 0 for s in text) if text else None
    flags = [step_flags(s, rules) for s in steps]
    for flag in FLAGS:
        row[flag] = _any(f[flag] for f in flags)
        row[f"{flag}_steps"] = None if row[flag] is None else sum(bool(f[flag]) for f in flags)
    return row


def raised(row: Mapping) -> list[str]:
    """The ``quality_flags`` names of the flags set in a participant's row."""
    return [name for flag, name in FLAG_NAMES.items() if row.get(flag)]
