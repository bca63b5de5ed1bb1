"""Long-format CSV export with full provenance: one row per participant x trial, one per participant.

Everything needed to analyse a trial without the database is on its row: which study version, condition,
image (and its hash), the model's prediction and whether it was right, which methods with which
parameters on which checkpoint, the class the maps explain, each map's attribution-cache key with the
hashes of the exact map and PNG the participant was served, faithfulness scores where the cache held them
at that moment, every answer, the server-side response time and the attention-check result.

A sampled map (LIME, Kernel SHAP) also carries how converged it was when served: ``convergence_split_half`` is
the Spearman rank correlation over the map's pixels between the maps fitted on two disjoint halves of its
samples (:mod:`study_app.explain.surrogates`; below ``CONVERGED_SPLIT_HALF`` the map counts as not converged;
empty when no halves could be formed, e.g. every coalition enumerated), ``convergence_evaluations`` the model
evaluations it spent and ``convergence_stopped`` why sampling stopped (``converged``, ``budget`` or
``exhaustive``). The three are empty for deterministic methods (Grad-CAM, gradients), which sample nothing.

Nothing is re-run or reconstructed: the prediction and method details come from the participant's stored
plan (:class:`study_app.study.plan.Plan`), and what was shown from the records written when each trial was
shown (:class:`study_app.store.records.ShownTrial`). A cache rebuilt or a checkpoint replaced after a
participant saw a trial cannot change what the export says they saw.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from study_app.store.records import ShownTrial
from study_app.store.repository import Repository, StudyRecord
from study_app.study import quality
from study_app.study.plan import Plan
from study_app.study.quality import QualityRules, participant_quality, trial_quality
from study_app.study.screening import COMPREHENSION
from study_app.study.showing import planned_target_label
from study_app.study.steps import ARM_PLACEBO

# Export column -> field of a sampled map's convergence record (explain.surrogates.SurrogateResult.record).
CONVERGENCE_COLUMNS = {"convergence_split_half": "split_half_spearman", "convergence_evaluations": "n_evaluations",
                       "convergence_stopped": "stopped"}
NO_RULES = QualityRules()  # no minimum time: ``too_fast`` stays empty unless the study sets one

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")

# Columns holding class names (as the model names them; answers are stored so). Each gets a ``_display`` twin with
# what the participant read for the class (the study file's class_labels, kept in the plan), the name where none.
CLASS_COLUMNS = ("true_label", "predicted_label", "target_label", "map_targets", "options")

RESPONSE_COLUMNS = [
    "study_id", "study_sha256", "participant", "condition", "condition_label", "trial_index", "task", "protocol",
    "phases", "image_id", "image_sha256", "true_label", "predicted_label", "predicted_prob", "model_correct",
    "model_topk", "options", "methods", "method_names", "method_params", "map_targets", "randomized_model",
    "checkpoint", "checkpoint_sha256", "target_label", "map_cache_key", "map_sha256", "png_sha256", "is_attention_check", "attention_expected",
    "attention_passed", "correct", "shown_at", "answered_at", "response_time_ms", "answer_sha256",
    *quality.TRIAL_COLUMNS, *(f"{c}_display" for c in CLASS_COLUMNS),
]
CLASS_ANSWERS = ("answer_choice", "answer_initial", "answer_final")  # forward simulation, distinction, decision
AUDIT_COLUMNS = ["id", "at", "action", "outcome", "actor", "study_id", "detail"]
PARTICIPANT_COLUMNS = [
    "study_id", "study_sha256", "participant", "condition", "condition_label", "seed", "status", "created_at",
    "consented_at", "last_seen_at", "completed_at", "prolific_pid", "prolific_study_id", "prolific_session_id",
    "external_ids_hashed", "trials_planned", "trials_answered", "attention_checks", "attention_checks_passed",
    "pilot", *quality.PARTICIPANT_COLUMNS,
]


def neutralise_cell(value):
    """A cell a spreadsheet cannot run as a formula, everything else unchanged.

    Text starting with ``= + - @``, tab or carriage return gets a leading apostrophe (the OWASP CSV
    injection advice); numbers stay numbers, so a negative probability would not be touched (there are
    none) and numeric answers keep their type.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return neutralise_cell(value)


def write_csv(path: str | Path, rows: Iterable[Mapping], columns: list[str]) -> int:
    """Write UTF-8 CSV atomically (a crash never leaves half a file), owner-only (``mkstemp``: 0600);
    returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _cell(row.get(c)) for c in columns})
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def _flatten_answer(answer: Mapping, phase: str, out: dict) -> None:
    for key, value in answer.items():
        if key == "comment":
            out[f"comment_{phase}"] = value
        elif isinstance(value, Mapping):
            for sub, v in value.items():
                out[f"answer_{key}_{sub}"] = v
        else:
            out[f"answer_{key}"] = value


def _shown_columns(shown: list[ShownTrial], row: dict) -> None:
    """Fill the provenance columns from the records written when the trial's phases were shown: plain values
    for a single map, JSON keyed by ``method_key`` (``method_key->target`` for distinction) for several."""
    if not shown:
        return
    first = shown[0]
    row.update(image_sha256=first.image_sha256, checkpoint_sha256=first.checkpoint_sha256,
               target_label=first.target_label)
    maps = {m.column: m for record in shown for m in record.maps}
    if not maps:
        return
    labels = list(dict.fromkeys(m.target_label for m in maps.values() if m.target_label))  # as served
    if labels:
        row["map_targets"] = ";".join(labels)
    if len(labels) == 1:  # the class the maps explain (a version-3 placebo explained another image's class)
        row["target_label"] = labels[0]
    fields = {"map_cache_key": "cache_key", "map_sha256": "map_sha256", "png_sha256": "png_sha256"}
    metrics = sorted({metric for m in maps.values() for metric in (m.faithfulness or {})})
    if len(maps) == 1:
        (m,) = maps.values()
        row.update({column: getattr(m, name) for column, name in fields.items()})
        row.update({f"faithfulness_{k}": v for k, v in (m.faithfulness or {}).items()})
        if m.convergence:
            row.update({column: m.convergence.get(name) for column, name in CONVERGENCE_COLUMNS.items()})
        return
    for column, name in fields.items():
        row[column] = {key: getattr(m, name) for key, m in maps.items()}
    for metric in metrics:
        row[f"faithfulness_{metric}"] = {key: (m.faithfulness or {}).get(metric) for key, m in maps.items()}
    if any(m.convergence for m in maps.values()):
        for column, name in CONVERGENCE_COLUMNS.items():
            row[column] = {key: (m.convergence or {}).get(name) for key, m in maps.items()}


def _decision_columns(first, maps: list, answers: list, row: dict) -> None:
    """A decision trial's arm and how its advice was given (placebo source, method and the image its map was
    computed on: ``placebo_image_id`` and ``placebo_image_sha256``, for ``other_image``), and both answers' times
    under their phase names even when the trial had one phase (``response_time_ms_final``). The answers
    themselves are ``answer_initial``/``answer_final``, ``answer_confidence_initial``/``_final`` and, on
    request, ``answer_advice_requested`` and ``answer_advice_requested_ms`` (from the step being shown)."""
    advice = first.advice if first is not None else None
    if advice is None:
        return
    row.update(arm=advice.arm, decision_variant=advice.variant, advice_on_request=advice.on_request,
               placebo_source=advice.placebo_source, placebo_method=advice.placebo_method,
               placebo_image_id=advice.placebo_image_id,
               placebo_image_sha256=next((m.image_sha256 for m in maps if m.key == ARM_PLACEBO and m.image_id), None))
    for a in answers:
        row[f"response_time_ms_{a.phase}"] = a.response_time_ms


def _plans(repository: Repository, record: StudyRecord) -> dict[int, Plan]:
    return {pid: Plan.from_json(json.loads(text)) for pid, text in repository.plans(record.id).items()}


def response_rows(repository: Repository, record: StudyRecord, *, include_pilot: bool = False,
                  rules: QualityRules = NO_RULES) -> list[dict]:
    """One dict per answered participant x trial (phases of a trial merged into one row), with the trial's
    data-quality columns (:mod:`study_app.study.quality`). Pilot runs only with ``include_pilot``."""
    participants = {p.id: p for p in repository.participants(record.id) if include_pilot or not p.pilot}
    plans = _plans(repository, record)
    shown: dict[tuple[int, int], list[ShownTrial]] = {}
    for s in repository.shown_trials(record.id):
        shown.setdefault((s.participant_id, s.trial_index), []).append(s)
    grouped: dict[tuple[int, int], list] = {}
    for r in repository.responses(record.id):
        if r.participant_id in participants:
            grouped.setdefault((r.participant_id, r.trial_index), []).append(r)
    rows = []
    for (pid, trial_index), answers in grouped.items():
        participant, plan = participants[pid], plans.get(pid)
        steps = plan.steps_of_trial(trial_index) if plan is not None else ()
        first = steps[0] if steps else None
        methods = [m for s in steps for m in s.maps]
        model = first.model if first is not None else None
        row = {
            "study_id": record.slug, "study_sha256": record.file_sha256, "participant": participant.public_id,
            "condition": participant.condition, "condition_label": plan.condition_label if plan else None,
            "trial_index": trial_index, "task": answers[0].task, "protocol": first and first.protocol,
            "phases": ";".join(a.phase for a in answers), "image_id": answers[0].image_id,
            "image_sha256": first and first.image_sha256, "true_label": first and first.true_label,
            "predicted_label": model and model.label, "predicted_prob": model and model.prob,
            "model_correct": model and model.correct, "model_topk": model and [list(t) for t in model.topk],
            "options": (first and list(first.options)) or None,
            "methods": ";".join(dict.fromkeys(m.key for m in methods)) or "none",
            "method_names": ";".join(dict.fromkeys(m.name for m in methods)),
            "method_params": {m.key: m.params for m in methods} or None,
            "map_targets": ";".join(dict.fromkeys(t for s in steps for m in s.maps
                                                  if (t := planned_target_label(s, m)))) or None,
            "randomized_model": any(m.randomized_model for m in methods),
            "checkpoint": first and first.checkpoint, "checkpoint_sha256": first and first.checkpoint_sha256,
            "is_attention_check": any(a.is_attention_check for a in answers),
            "attention_expected": (first and dict(first.expected)) or None,
            "attention_passed": next((a.attention_passed for a in answers if a.attention_passed is not None), None),
            "correct": next((a.correct for a in answers if a.correct is not None), None),
            "shown_at": answers[0].shown_at, "answered_at": answers[-1].answered_at,
            "answer_sha256": ";".join(a.answer_sha256 for a in answers),
        }
        times = [a.response_time_ms for a in answers]
        row["response_time_ms"] = None if any(t is None for t in times) else sum(times)
        for a in answers:
            _flatten_answer(a.answer, a.phase, row)
            if len(answers) > 1:
                row[f"response_time_ms_{a.phase}"] = a.response_time_ms
        _shown_columns(shown.get((pid, trial_index), []), row)
        _decision_columns(first, methods, answers, row)
        _display_columns(plan, row)
        row.update(trial_quality(row["response_time_ms"], _summed_signals(answers), rules))
        if include_pilot:
            row["pilot"] = participant.pilot
        rows.append(row)
    return rows


def _display_columns(plan: Plan | None, row: dict) -> None:
    """``<column>_display`` for each class column and class answer: the class as the participant read it."""
    def shown(name):
        return plan.class_label(row["task"], name) if plan is not None and name is not None else name
    for column in CLASS_COLUMNS:
        value = row.get(column)
        if column == "options":
            row["options_display"] = None if value is None else [shown(v) for v in value]
        elif column == "map_targets":
            row["map_targets_display"] = None if value is None else ";".join(shown(v) for v in value.split(";"))
        else:
            row[f"{column}_display"] = shown(value)
    for column in CLASS_ANSWERS:
        if column in row:
            row[f"{column}_display"] = shown(row[column])


def _summed_signals(answers) -> dict | None:
    """A trial's browser signals over its phases (``None`` when no phase brought any)."""
    reported = [a.signals for a in answers if a.signals and any(v is not None for v in a.signals.values())]
    if not reported:
        return None
    return {name: sum(s.get(name) or 0 for s in reported) for name in reported[0]}


def _likert_values(answer: Mapping) -> list[int]:
    """Scale answers in a trial answer (confidence and trust items, whatever the protocol calls them)."""
    return [v for k, v in answer.items()
            if isinstance(v, int) and not isinstance(v, bool) and ("confidence" in k or "trust" in k)]


def participant_rows(repository: Repository, record: StudyRecord, *, include_pilot: bool = False,
                     rules: QualityRules = NO_RULES, trial_rows: list[dict] | None = None) -> list[dict]:
    """One dict per participant with questionnaire answers as ``pre_<id>`` / ``post_<id>`` columns and
    their data-quality summary and flags (:mod:`study_app.study.quality`; nobody is excluded here).
    ``trial_rows``: this record's :func:`response_rows` when the caller has built them already."""
    plans = _plans(repository, record)
    if trial_rows is None:
        trial_rows = response_rows(repository, record, include_pilot=include_pilot, rules=rules)
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
    rows = []
    for p in repository.participants(record.id):
        if p.pilot and not include_pilot:
            continue
        plan = plans.get(p.id)
        passed = checks.get(p.id, [])
        row = {
            "study_id": record.slug, "study_sha256": record.file_sha256, "participant": p.public_id,
            "condition": p.condition, "condition_label": plan and plan.condition_label, "seed": str(p.seed),
            "status": p.status, "created_at": p.created_at, "consented_at": p.consented_at,
            "last_seen_at": p.last_seen_at, "completed_at": p.completed_at, "prolific_pid": p.prolific_pid,
            "prolific_study_id": p.prolific_study_id, "prolific_session_id": p.prolific_session_id,
            "external_ids_hashed": p.external_ids_hashed, "trials_planned": plan and plan.n_trials,
            "trials_answered": len(answered.get(p.id, ())), "attention_checks": len(passed),
            "attention_checks_passed": sum(1 for v in passed if v), "pilot": p.pilot,
        }
        row.update(participant_quality(trials.get(p.public_id, []), likert.get(p.id, []), rules,
                                       comprehension.get(p.id), id_notes.get(p.id)))
        row.update(questionnaire.get(p.id, {}))
        rows.append(row)
    return rows


def _columns(fixed: list[str], rows: list[dict]) -> list[str]:
    extra = sorted({k for row in rows for k in row} - set(fixed))
    return fixed + extra


def write_audit_csv(repository: Repository, path: str | Path) -> int:
    """The researcher audit log (every login, failed login, export, backup and withdrawal), oldest first."""
    rows = [{"id": e.id, "at": e.at, "action": e.action, "outcome": e.outcome, "actor": e.actor,
             "study_id": e.study_slug, "detail": e.detail} for e in reversed(repository.audit_log())]
    return write_csv(path, rows, AUDIT_COLUMNS)


@dataclass(frozen=True)
class ExportResult:
    responses: int
    participants: int
    responses_path: Path
    participants_path: Path
    responses_sha256: str
    audit_entries: int = 0
    audit_path: Path | None = None


def relative_checkpoint(path: str | None, study_dir: str | Path | None) -> str | None:
    """The checkpoint folder relative to the study file's folder (``checkpoint_sha256`` beside it says which
    weights), so an export names no path of the server's; as stored without ``study_dir``."""
    if not path or study_dir is None or not Path(path).is_absolute():
        return path
    return Path(os.path.relpath(path, Path(study_dir).resolve())).as_posix()


def export_study(repository: Repository, records: list[StudyRecord], responses_path: str | Path,
                 participants_path: str | Path, *, now: dt.datetime | None = None, audit_path: str | Path | None = None,
                 actor: str = "cli", include_pilot: bool = False, rules: QualityRules = NO_RULES,
                 study_dir: str | Path | None = None) -> ExportResult:
    """Write both CSVs (owner-only, like every file with participants' data) for the given study versions, log
    an ``export`` event for each version and an entry in the researcher audit log, then (with ``audit_path``)
    the audit log itself, this export included. ``study_dir``: the study file's folder, which the
    ``checkpoint`` column is relative to (:func:`relative_checkpoint`)."""
    now = now or dt.datetime.now(dt.UTC)
    responses, participants = [], []
    for record in records:
        rows = response_rows(repository, record, include_pilot=include_pilot, rules=rules)
        for row in rows:
            row["checkpoint"] = relative_checkpoint(row.get("checkpoint"), study_dir)
        responses += rows
        participants += participant_rows(repository, record, include_pilot=include_pilot, rules=rules,
                                         trial_rows=rows)
    n_r = write_csv(responses_path, responses, _columns(RESPONSE_COLUMNS, responses))
    n_p = write_csv(participants_path, participants, _columns(PARTICIPANT_COLUMNS, participants))
    digest = hashlib.sha256(Path(responses_path).read_bytes()).hexdigest()
    for record in records:
        repository.log_event(record.id, "export", {
            "responses_csv": str(responses_path), "participants_csv": str(participants_path),
            "responses": n_r, "participants": n_p,
        }, now, sha256=digest)
        repository.log_researcher_action("export", "ok", now, actor=actor, study_slug=record.slug, detail={
            "study_sha256": record.file_sha256, "responses": n_r, "participants": n_p, "responses_sha256": digest})
    n_a = write_audit_csv(repository, audit_path) if audit_path is not None else 0
    return ExportResult(n_r, n_p, Path(responses_path), Path(participants_path), digest, n_a,
                        Path(audit_path) if audit_path is not None else None)
