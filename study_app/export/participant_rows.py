"""The participants export: one row per participant, with questionnaire answers as ``pre_<id>`` / ``post_<id>``
columns and the data-quality summary and flags (:mod:`study_app.study.quality`, the bot and LLM-agent signals'
:mod:`study_app.study.bot_signals`; nobody is excluded here)."""

from __future__ import annotations

from collections.abc import Mapping

from study_app.export.trial_rows import NO_RULES, included, response_rows, stored_plans
from study_app.store.repository import Repository, StudyRecord
from study_app.study import bot_signals
from study_app.study.quality import QualityRules, participant_quality
from study_app.study.screening import COMPREHENSION


def _likert_values(answer: Mapping) -> list[int]:
    """Scale answers in a trial answer (confidence and trust items, whatever the protocol calls them)."""
    return [v for k, v in answer.items()
            if isinstance(v, int) and not isinstance(v, bool) and ("confidence" in k or "trust" in k)]


def participant_rows(repository: Repository, record: StudyRecord, *, include_pilot: bool = False,
                     rules: QualityRules = NO_RULES, trial_rows: list[dict] | None = None,
                     include_synthetic: bool = False) -> list[dict]:
    """One dict per participant with questionnaire answers as ``pre_<id>`` / ``post_<id>`` columns and
    their data-quality summary and flags (:mod:`study_app.study.quality`; nobody is excluded here).
    ``trial_rows``: this record's :func:`~study_app.export.trial_rows.response_rows` when the caller has built
    them already. Synthetic participants (``xai-study simulate``) only with ``include_synthetic``, then with a
    ``synthetic`` column."""
    plans = stored_plans(repository, record)
    if trial_rows is None:
        trial_rows = response_rows(repository, record, include_pilot=include_pilot, rules=rules,
                                   include_synthetic=include_synthetic)
    trials: dict[str, list[dict]] = {}
    for row in trial_rows:
        trials.setdefault(row["participant"], []).append(row)
    likert: dict[int, list[int]] = {}
    answered: dict[int, set[int]] = {}
    checks: dict[int, list[bool | None]] = {}
    for r in repository.responses(record.id):
        answered.setdefault(r.participant_id, set()).add(r.trial_index)
        likert.setdefault(r.participant_id, []).extend(_likert_values(r.answer))
        if r.is_attention_check:
            checks.setdefault(r.participant_id, []).append(r.attention_passed)
    questionnaire: dict[int, dict] = {}
    comprehension: dict[int, dict] = {}  # scored against the rules' (the study file's) right options
    for q in repository.questionnaire_answers(record.id):
        questionnaire.setdefault(q.participant_id, {})[f"{q.questionnaire}_{q.question_id}"] = q.answer
        if q.questionnaire == COMPREHENSION:
            comprehension.setdefault(q.participant_id, {})[q.question_id] = q.answer
    id_notes = {e.participant_id: e.detail for e in repository.events(record.id, kind="consent")}
    bot: dict[int, list] = {}  # every answered step's bot signals: trial phases and questionnaire pages
    for b in repository.bot_signals(record.id):
        bot.setdefault(b.participant_id, []).append(b.signals)
    everyone = repository.participants(record.id)
    # As xai-study prolific last saw each submission (status as Prolific listed it; bonus paid through us, in
    # the study's currency): empty for a participant it never matched.
    submissions = repository.prolific_submissions(p.id for p in everyone)
    rows = []
    for p in everyone:
        if not included(p, include_pilot=include_pilot, include_synthetic=include_synthetic):
            continue
        plan = plans.get(p.id)
        passed = checks.get(p.id, [])
        row = {
            "study_id": record.slug, "study_sha256": record.file_sha256, "participant": p.public_id,
            "condition": p.condition, "condition_label": plan and plan.condition_label, "seed": str(p.seed),
            "status": p.status, "created_at": p.created_at, "consented_at": p.consented_at,
            "last_seen_at": p.last_seen_at, "completed_at": p.completed_at, "prolific_pid": p.prolific_pid,
            "prolific_study_id": p.prolific_study_id, "prolific_session_id": p.prolific_session_id,
            "external_ids_hashed": p.external_ids_hashed,
            "prolific_submission_status": submissions[p.id][0] if p.id in submissions else None,
            "prolific_bonus_paid": f"{submissions[p.id][1] / 100:.2f}" if p.id in submissions else None,
            "trials_planned": plan and plan.n_trials,
            "trials_answered": len(answered.get(p.id, ())), "attention_checks": len(passed),
            "attention_checks_passed": sum(1 for v in passed if v), "pilot": p.pilot,
        }
        if include_synthetic:
            row["synthetic"] = p.synthetic
        row.update(participant_quality(trials.get(p.public_id, []), likert.get(p.id, []), rules,
                                       comprehension.get(p.id), id_notes.get(p.id)))
        row.update(bot_signals.participant_columns(bot.get(p.id, []), rules.bot))
        row["quality_flags"] = " ".join([*row["quality_flags"].split(), *bot_signals.raised(row)])
        row.update(questionnaire.get(p.id, {}))
        rows.append(row)
    return rows
