"""The responses export: one row per participant x trial, with full provenance.

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

A panel (similar examples, prediction grid, concepts: :mod:`study_app.explain.panels`) carries its quality figures
as served, each as ``panel_<figure>`` (defined in :func:`study_app.explain.panel_service.quality_figures`):
``panel_label_agreement`` and ``panel_mean_similarity`` (or ``panel_mean_distance``) for similar examples,
``panel_concept_scores``, ``panel_concept_p_values``, ``panel_concepts_significant`` and ``panel_concepts_shuffled``
for concepts. Its ``map_sha256`` is the hash of what the panel showed (examples or concept scores, in order).

Nothing is re-run or reconstructed: the prediction and method details come from the participant's stored
plan (:class:`study_app.study.plan.Plan`), and what was shown from the records written when each trial was
shown (:class:`study_app.store.records.ShownTrial`). A cache rebuilt or a checkpoint replaced after a
participant saw a trial cannot change what the export says they saw.

Columns only one protocol has are added in :func:`protocol_columns`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from study_app.export.columns import CLASS_ANSWERS, CLASS_COLUMNS, CONVERGENCE_COLUMNS
from study_app.store.records import ShownTrial
from study_app.store.repository import Repository, StudyRecord
from study_app.study.bot_signals import trial_columns
from study_app.study.plan import Plan
from study_app.study.protocols import PROTOCOLS
from study_app.study.quality import QualityRules, trial_quality
from study_app.study.showing import planned_target_label

NO_RULES = QualityRules()  # no minimum time: ``too_fast`` stays empty unless the study sets one


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
    schemes = sorted({m.colours for m in maps.values() if m.colours})  # one per study; none before it was recorded
    if schemes:
        row["map_colours"] = ";".join(schemes)
    fields = {"map_cache_key": "cache_key", "map_sha256": "map_sha256", "png_sha256": "png_sha256"}
    metrics = sorted({metric for m in maps.values() for metric in (m.faithfulness or {})})
    if len(maps) == 1:
        (m,) = maps.values()
        row.update({column: getattr(m, name) for column, name in fields.items()})
        row.update({f"faithfulness_{k}": v for k, v in (m.faithfulness or {}).items()})
        if m.convergence:
            row.update({column: m.convergence.get(name) for column, name in CONVERGENCE_COLUMNS.items()})
        row.update({f"panel_{k}": v for k, v in (m.quality or {}).items()})
        return
    for column, name in fields.items():
        row[column] = {key: getattr(m, name) for key, m in maps.items()}
    for metric in metrics:
        row[f"faithfulness_{metric}"] = {key: (m.faithfulness or {}).get(metric) for key, m in maps.items()}
    if any(m.convergence for m in maps.values()):
        for column, name in CONVERGENCE_COLUMNS.items():
            row[column] = {key: (m.convergence or {}).get(name) for key, m in maps.items()}
    for figure in sorted({f for m in maps.values() for f in (m.quality or {})}):
        row[f"panel_{figure}"] = {key: (m.quality or {}).get(figure) for key, m in maps.items() if m.quality}


def protocol_columns(first, maps: list, answers: list, row: dict) -> None:
    """The columns only some protocols have (the protocol's ``export_columns``), from the trial's first planned
    step (``first``), its planned maps and its answers. Today: a decision trial's arm and how its advice was given (placebo source, method and the
    image its map was computed on: ``placebo_image_id`` and ``placebo_image_sha256``, for ``other_image``), and
    both answers' times under their phase names even when the trial had one phase (``response_time_ms_final``).
    The answers themselves are ``answer_initial``/``answer_final``, ``answer_confidence_initial``/``_final`` and,
    on request, ``answer_advice_requested`` and ``answer_advice_requested_ms`` (from the step being shown)."""
    protocol = PROTOCOLS.get(first.protocol) if first is not None else None
    if protocol is not None:
        row.update(protocol.export_columns(first, maps, answers))


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


def stored_plans(repository: Repository, record: StudyRecord) -> dict[int, Plan]:
    """``{participant id: Plan}`` for every participant of this study version with a stored plan."""
    return {pid: Plan.from_json(json.loads(text)) for pid, text in repository.plans(record.id).items()}


def _trial_row(record: StudyRecord, participant, plan: Plan | None, trial_index: int, answers: list,
               shown: list[ShownTrial], rules: QualityRules, bot: list | None = None) -> dict:
    """One participant x trial: the plan's columns, the answers, what was shown, the protocol's own columns,
    the classes as displayed and the data-quality columns (with the bot signals of its phases, ``bot``:
    :mod:`study_app.study.bot_signals`)."""
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
    _shown_columns(shown, row)
    protocol_columns(first, methods, answers, row)
    _display_columns(plan, row)
    row.update(trial_quality(row["response_time_ms"], _summed_signals(answers), rules))
    row.update(trial_columns(bot or [], rules.bot))
    return row


def included(participant, *, include_pilot: bool = False, include_synthetic: bool = False) -> bool:
    """Whether an export (or page) built with these switches holds ``participant``: pilot runs only with
    ``include_pilot``, ``xai-study simulate``'s synthetic participants only with ``include_synthetic``."""
    return (include_pilot or not participant.pilot) and (include_synthetic or not participant.synthetic)


def response_rows(repository: Repository, record: StudyRecord, *, include_pilot: bool = False,
                  rules: QualityRules = NO_RULES, include_synthetic: bool = False) -> list[dict]:
    """One dict per answered participant x trial (phases of a trial merged into one row), with the trial's
    data-quality columns (:mod:`study_app.study.quality`). Pilot runs only with ``include_pilot`` (then a
    ``pilot`` column), synthetic participants only with ``include_synthetic`` (then a ``synthetic`` column)."""
    participants = {p.id: p for p in repository.participants(record.id)
                    if included(p, include_pilot=include_pilot, include_synthetic=include_synthetic)}
    plans = stored_plans(repository, record)
    shown: dict[tuple[int, int], list[ShownTrial]] = {}
    for s in repository.shown_trials(record.id):
        shown.setdefault((s.participant_id, s.trial_index), []).append(s)
    grouped: dict[tuple[int, int], list] = {}
    for r in repository.responses(record.id):
        if r.participant_id in participants:
            grouped.setdefault((r.participant_id, r.trial_index), []).append(r)
    bot: dict[tuple[int, int], list] = {}
    for b in repository.bot_signals(record.id):
        if b.trial_index is not None:
            bot.setdefault((b.participant_id, b.trial_index), []).append(b.signals)
    rows = []
    for (pid, trial_index), answers in grouped.items():
        participant = participants[pid]
        row = _trial_row(record, participant, plans.get(pid), trial_index, answers,
                         shown.get((pid, trial_index), []), rules, bot.get((pid, trial_index)))
        if include_pilot:
            row["pilot"] = participant.pilot
        if include_synthetic:
            row["synthetic"] = participant.synthetic
        rows.append(row)
    return rows
