"""Data-quality signals: which answers and participants a researcher should look at before analysing.

Per trial: answered faster than the study's ``min_trial_seconds``; how often and how long the page was
hidden or the window lost focus while the trial was on screen (reported by the browser, see
:mod:`study_app.ui.browser`; summed over the page loads the trial spanned, so a reload does not reset them). Per participant: those counted up, failed attention checks, wrong answers to
comprehension questions (:mod:`study_app.study.comprehension`; ``failed_checks`` is their sum, what
``screen_out_after`` counts), and *straight-lining* (the same value on every Likert item). Nothing here excludes anyone: the export carries
the columns and the progress page shows the flags, and the researcher decides (and says so in the paper).
The bot and LLM-agent signals (pointer, keys, paste, typing cadence, the hidden item) and their flags are in
:mod:`study_app.study.bot_signals`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from study_app.store.records import SIGNAL_COLUMNS
from study_app.study.answers import wrong_answers
from study_app.study.bot_signals import BotRules
from study_app.study.steps import Question
from study_app.study.views import NO_PROLIFIC_ID, REFUSED_IDS

BROWSER_SIGNALS = SIGNAL_COLUMNS  # stored per response (study_app.store.records)
TRIAL_COLUMNS = ("too_fast", *BROWSER_SIGNALS)
PARTICIPANT_COLUMNS = ("too_fast_trials", "failed_attention_checks", "failed_comprehension", "failed_checks",
                       "likert_items", "straight_lining", "hidden_count", "away_ms", "external_ids_refused",
                       "quality_flags")
FLAG_TOO_FAST, FLAG_ATTENTION, FLAG_STRAIGHT, FLAG_AWAY = "too_fast", "attention", "straight_lining", "away"
FLAG_COMPREHENSION = "comprehension"
FLAG_ID_REFUSED, FLAG_NO_PID = "external_id_refused", NO_PROLIFIC_ID  # from the consent record (study.views)


@dataclass(frozen=True)
class QualityRules:
    """When a participant gets a flag. ``min_trial_seconds`` comes from the study file (``None``: no
    minimum); the rest are defaults a researcher can read in the export's documentation."""

    min_trial_seconds: float | None = None
    straight_lining_min_items: int = 5  # fewer Likert answers than this are never called straight-lining
    away_ms: int = 10_000  # page hidden or window unfocused for this long in all: flagged "away"
    comprehension: tuple[Question, ...] = ()  # the study's comprehension questions, with their right options
    bot: BotRules = BotRules()  # when the bot and LLM-agent signals raise a flag (study_app.study.bot_signals)

    @classmethod
    def of(cls, study) -> QualityRules:
        """The rules a study file sets (``min_trial_seconds``, its comprehension questions)."""
        return cls(min_trial_seconds=study.min_trial_seconds, comprehension=study.comprehension)


def is_too_fast(response_time_ms: int | None, rules: QualityRules) -> bool | None:
    """``None`` when it cannot be judged (no minimum set, or no time recorded)."""
    if rules.min_trial_seconds is None or response_time_ms is None:
        return None
    return response_time_ms < rules.min_trial_seconds * 1000


def straight_lining(likert_answers: Sequence[int | float], rules: QualityRules) -> bool:
    """Every Likert answer the same, over at least ``straight_lining_min_items`` answers."""
    return len(likert_answers) >= rules.straight_lining_min_items and len(set(likert_answers)) == 1


def keep_signals(engine, token: str, step, counts: Mapping[str, int], page_load: str) -> None:
    """Keep what the browser reported so far about trial ``step`` in this page load (``counts``: its
    :data:`BROWSER_SIGNALS`), so that a reload, or another server process, continues the counts: when the
    answer is stored, the counts of the trial's earlier page loads are added to the submitted ones
    (:meth:`~study_app.store.repository.Repository.keep_trial_signals`). Nothing for an unknown token or
    another study's participant, or a step that is not a trial."""
    if step.trial is None:
        return
    participant = engine.repository.participant_by_token(token)
    if participant is None or participant.study_id != engine.record.id:
        return
    engine.repository.keep_trial_signals(participant.id, step.trial.index, step.trial.phase, page_load,
                                         {name: int(counts.get(name) or 0) for name in BROWSER_SIGNALS})


def trial_quality(response_time_ms: int | None, signals: Mapping | None, rules: QualityRules) -> dict:
    """The export's per-trial quality columns (browser signals empty when the browser sent none)."""
    row: dict = {"too_fast": is_too_fast(response_time_ms, rules)}
    for name in BROWSER_SIGNALS:
        value = (signals or {}).get(name)
        row[name] = int(value) if isinstance(value, int | float) and not isinstance(value, bool) else None
    return row


def participant_quality(trials: Iterable[Mapping], likert_answers: Sequence[int | float],
                        rules: QualityRules, comprehension: Mapping | None = None,
                        id_notes: Mapping | None = None) -> dict:
    """One participant's quality summary from their trial rows (each with the per-trial columns above,
    ``is_attention_check`` and ``attention_passed``), all their Likert answers, in the order given, and their
    stored comprehension answers (``{question_id: option}``; ``None`` or empty: none stored, nothing failed).
    ``id_notes``: the consent record's notes on the link's Prolific ids (:meth:`study_app.study.views.ExternalIds
    .notes`): a refused id (named in ``external_ids_refused``, its value never stored) or a missing
    ``PROLIFIC_PID`` in a study that returns participants to Prolific, either of which can leave a paid
    submission unmatched."""
    too_fast = failed = hidden = away = 0
    for t in trials:
        too_fast += bool(t.get("too_fast"))
        failed += bool(t.get("is_attention_check")) and t.get("attention_passed") is False
        hidden += t.get("hidden_count") or 0
        away += max(t.get("hidden_ms") or 0, t.get("blur_ms") or 0)  # hiding a tab also blurs the window
    lined = straight_lining(likert_answers, rules)
    wrong = len(wrong_answers(rules.comprehension, comprehension)) if comprehension else 0
    flags = [name for name, on in ((FLAG_TOO_FAST, too_fast > 0), (FLAG_ATTENTION, failed > 0),
                                   (FLAG_COMPREHENSION, wrong > 0), (FLAG_STRAIGHT, lined),
                                   (FLAG_AWAY, away >= rules.away_ms)) if on]
    refused = sorted((id_notes or {}).get(REFUSED_IDS, {}))
    flags += [name for name, on in ((FLAG_ID_REFUSED, refused), (FLAG_NO_PID, (id_notes or {}).get(FLAG_NO_PID)))
              if on]
    return {"too_fast_trials": too_fast, "failed_attention_checks": failed, "failed_comprehension": wrong,
            "failed_checks": failed + wrong, "likert_items": len(likert_answers), "straight_lining": lined,
            "hidden_count": hidden, "away_ms": away, "external_ids_refused": " ".join(refused),
            "quality_flags": " ".join(flags)}


def quality_by_participant(trial_rows: Iterable[Mapping], likert_by_participant: Mapping[str, Sequence],
                           rules: QualityRules, participant_key: str = "participant") -> dict[str, dict]:
    """:func:`participant_quality` for every participant in ``trial_rows`` (or with Likert answers)."""
    grouped: dict[str, list[Mapping]] = defaultdict(list)
    for row in trial_rows:
        grouped[row[participant_key]].append(row)
    everyone = list(dict.fromkeys([*grouped, *likert_by_participant]))
    return {p: participant_quality(grouped.get(p, []), list(likert_by_participant.get(p, [])), rules)
            for p in everyone}
