"""Live progress numbers from the repository's plain records. No Streamlit here.

A participant is *completed*, *screened out* (by the study's screen-out rule: their slot goes back to the
pool), *in progress* (seen within the study's inactivity timeout) or *abandoned* (unfinished and silent for
longer: their slot goes to the next newcomer). Withdrawn participants have no rows left; the event log
counts them. Pilot runs are counted apart (:func:`split_pilots`), never in the study's numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence

import pandas as pd

from study_app.store.records import COMPLETED, SCREENED_OUT
from study_app.store.recruitment_writes import ENDED_BY_RECRUITER

STATES = ("started", "completed", "screened out", "in progress", "abandoned")


def split_pilots(participants: Iterable) -> tuple[list, list]:
    """``(study participants, pilot runs)``; ``xai-study simulate``'s synthetic participants are in neither."""
    everyone = [p for p in participants if not getattr(p, "synthetic", False)]
    return [p for p in everyone if not p.pilot], [p for p in everyone if p.pilot]


def participant_state(p, active_since: dt.datetime) -> str:
    if p.status == COMPLETED:
        return "completed"
    if p.status == SCREENED_OUT:
        return "screened out"
    if p.status in ENDED_BY_RECRUITER:  # returned or timed out on Prolific (xai-study prolific sync)
        return "abandoned"
    last_seen = p.last_seen_at if p.last_seen_at.tzinfo else p.last_seen_at.replace(tzinfo=dt.UTC)
    return "in progress" if last_seen >= active_since else "abandoned"


def progress_table(participants: Iterable, conditions: Sequence[str], active_since: dt.datetime) -> pd.DataFrame:
    """Started / completed / screened out / in progress / abandoned per condition label, plus a total row."""
    counts = {label: dict.fromkeys(STATES, 0) for label in conditions}
    for p in participants:
        label = conditions[p.condition] if 0 <= p.condition < len(conditions) else f"condition {p.condition}"
        row = counts.setdefault(label, dict.fromkeys(STATES, 0))
        row["started"] += 1
        row[participant_state(p, active_since)] += 1
    table = pd.DataFrame.from_dict(counts, orient="index")
    table.index.name = "condition"
    table.loc["all"] = table.sum()
    return table.reset_index()


def free_text_items(study) -> frozenset[tuple[str, str]]:
    """``(questionnaire, question id)`` of the answers a participant writes freely: the ``text`` items of the
    pre- and post-questionnaire and the instructions page's comment (stored with the comprehension answers)."""
    items = {("pre", q.id) for q in study.pre_questionnaire if q.kind == "text"}
    items |= {("post", q.id) for q in study.post_questionnaire if q.kind == "text"}
    return frozenset(items | {("comprehension", "comment")})


def recent_texts(responses: Iterable, questionnaire_answers: Iterable, public_ids: dict[int, str],
                 text_items: Collection[tuple[str, str]], limit: int = 20) -> pd.DataFrame:
    """The latest free-text answers (trial comments and the ``text_items`` of :func:`free_text_items`; never a
    chosen option or a number), newest first, as data."""
    rows = []
    for r in responses:
        comment = r.answer.get("comment") if isinstance(r.answer, dict) else None
        if isinstance(comment, str) and comment.strip():
            rows.append({"when": r.answered_at, "participant": public_ids.get(r.participant_id, "?"),
                         "where": f"trial {r.trial_index + 1} ({r.phase})", "text": comment})
    for q in questionnaire_answers:
        if (q.questionnaire, q.question_id) in text_items and isinstance(q.answer, str) and q.answer.strip():
            rows.append({"when": q.answered_at, "participant": public_ids.get(q.participant_id, "?"),
                         "where": f"{q.questionnaire}: {q.question_id}", "text": q.answer})
    rows.sort(key=lambda r: r["when"], reverse=True)
    return pd.DataFrame(rows[:limit], columns=["when", "participant", "where", "text"])
