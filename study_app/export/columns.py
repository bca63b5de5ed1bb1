"""The export's fixed columns, in their order; a row's other keys (answers, per-protocol and per-metric columns)
follow them, sorted (:func:`study_app.export.csv_files.with_extra_columns`)."""

from __future__ import annotations

from study_app.study import bot_signals, quality
from study_app.study.protocols import PROTOCOLS

# Export column -> field of a sampled map's convergence record (explain.surrogates.SurrogateResult.record).
CONVERGENCE_COLUMNS = {"convergence_split_half": "split_half_spearman", "convergence_evaluations": "n_evaluations",
                       "convergence_stopped": "stopped"}

# Columns holding class names (as the model names them; answers are stored so). Each gets a ``_display`` twin with
# what the participant read for the class (the study file's class_labels, kept in the plan), the name where none.
CLASS_COLUMNS = ("true_label", "predicted_label", "target_label", "map_targets", "options")

RESPONSE_COLUMNS = [
    "study_id", "study_sha256", "participant", "condition", "condition_label", "trial_index", "task", "protocol",
    "phases", "image_id", "image_sha256", "true_label", "predicted_label", "predicted_prob", "model_correct",
    "model_topk", "options", "methods", "method_names", "method_params", "map_targets", "randomized_model",
    "checkpoint", "checkpoint_sha256", "target_label", "map_cache_key", "map_sha256", "png_sha256", "is_attention_check", "attention_expected",
    "attention_passed", "correct", "shown_at", "answered_at", "response_time_ms", "answer_sha256",
    *quality.TRIAL_COLUMNS, *bot_signals.TRIAL_COLUMNS, *(f"{c}_display" for c in CLASS_COLUMNS),
]
# answers that name a class (forward simulation and distinction: choice; decision: initial, final)
CLASS_ANSWERS = tuple(dict.fromkeys(f"answer_{key}" for p in PROTOCOLS.values() for key in p.class_answers))
AUDIT_COLUMNS = ["id", "at", "action", "outcome", "actor", "study_id", "detail"]
PARTICIPANT_COLUMNS = [
    "study_id", "study_sha256", "participant", "condition", "condition_label", "seed", "status", "created_at",
    "consented_at", "last_seen_at", "completed_at", "prolific_pid", "prolific_study_id", "prolific_session_id",
    "external_ids_hashed", "prolific_submission_status", "prolific_bonus_paid", "trials_planned", "trials_answered",
    "attention_checks", "attention_checks_passed", "pilot", *quality.PARTICIPANT_COLUMNS, *bot_signals.PARTICIPANT_COLUMNS,
]
# The bot and LLM-agent columns (both files) and their flags' rules are defined in study_app.study.bot_signals's
# docstring: counts per answered step from the page load it was submitted from, free-text columns empty on a step
# without a text field, every column empty for a simulated participant or an answer stored before migration 0007.
