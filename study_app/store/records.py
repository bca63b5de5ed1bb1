"""The plain values the repository hands out (never ORM objects), and the helpers that make them."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass

from study_app.store.schema import ParticipantRow, StudyRow

ACTIVE = "active"
COMPLETED = "completed"
SCREENED_OUT = "screened_out"  # ended by the study's screen-out rule; their slot returns to the pool
# What the browser reports about a trial (Page Visibility API, window focus): the responses columns that hold it.
SIGNAL_COLUMNS = ("hidden_count", "hidden_ms", "blur_count", "blur_ms")
# What the browser reports about an answered step that only a person or only an automated agent leaves (table
# ``bot_signals``, migration 0007; meanings in study_app.study.bot_signals): whole counts, the typing cadence, the
# hidden item.
BOT_COUNT_COLUMNS = ("pointer_moves", "pointer_path_px", "pointer_clicks", "key_presses", "untrusted_events",
                     "text_fields", "paste_count", "pasted_chars", "typed_chars", "key_intervals")
BOT_CADENCE_COLUMNS = ("key_interval_median_ms", "key_interval_iqr_ms")
# The device the step was answered on: window size in CSS px and whether the primary pointer is coarse (touch).
BOT_DEVICE_COLUMNS = ("viewport_width", "viewport_height", "touch_screen")
BOT_SIGNAL_COLUMNS = (*BOT_COUNT_COLUMNS, *BOT_CADENCE_COLUMNS, "honeypot", *BOT_DEVICE_COLUMNS)


def canonical_json(value) -> str:
    """The one JSON text of a value (sorted keys, no spaces, Unicode kept, no NaN): what is stored, and what
    the event log's hashes are computed over, so equal answers hash equally wherever they are hashed."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def token_sha256(token: str) -> str:
    """What the database stores for a resume token: its SHA-256. Tokens are 144 random bits (or at least
    16 URL-safe characters a browser made), so a plain hash cannot be reversed by guessing."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class StudyRecord:
    id: int
    slug: str
    file_sha256: str
    title: str
    created_at: dt.datetime
    id_key: str | None  # only for studies that keep their key in the database (see study_app.study.id_key)


@dataclass(frozen=True)
class ParticipantRecord:
    id: int
    study_id: int
    token_sha256: str
    public_id: str  # pseudonym, unique per enrolment and never reused
    condition: int
    seed: int
    status: str
    stage: int
    stage_shown_at: dt.datetime | None
    created_at: dt.datetime
    consented_at: dt.datetime
    last_seen_at: dt.datetime
    completed_at: dt.datetime | None
    prolific_pid: str | None
    prolific_study_id: str | None
    prolific_session_id: str | None
    external_ids_hashed: bool
    pilot: bool = False  # a researcher's pilot run: never counted, left out of exports unless asked for
    synthetic: bool = False  # xai-study simulate's participant: balanced apart, left out unless asked for


@dataclass(frozen=True)
class Enrolment:
    """What a newcomer is given; ``condition_label`` and ``plan`` come from the engine's callback."""

    participant: ParticipantRecord
    plan_json: str


@dataclass(frozen=True)
class NewResponse:
    """A trial answer to store, already validated and scored by the engine."""

    trial_index: int
    phase: str
    task: str
    image_id: str
    answer: dict
    answer_sha256: str
    correct: bool | None
    is_attention_check: bool
    attention_passed: bool | None
    signals: Mapping[str, int] | None = None  # what the browser reported (study_app.study.quality)


@dataclass(frozen=True)
class ShownMapRecord:
    """One map as served: ``column`` names it in the export (``key`` or ``key->target``). The served fields
    are ``None`` when no map service served it (an engine without one, or the service failed)."""

    key: str
    column: str
    name: str
    target: str | None
    target_index: int | None
    cache_key: str | None
    png_sha256: str | None = None
    map_sha256: str | None = None
    checkpoint_sha256: str | None = None  # of the model that made the map (the randomised control's differs)
    faithfulness: dict | None = None
    target_label: str | None = None  # the class the map explains (``target_index``'s name)
    image_id: str | None = None  # the image the map was computed on when not the trial's (a decision placebo)
    image_sha256: str | None = None  # of the image the map was computed on (served)
    photo_sha256: str | None = None  # of the image drawn under the map (served): the trial's own
    convergence: dict | None = None  # a sampled map's convergence record as served (None: deterministic method)
    colours: str | None = None  # the colour scheme it was drawn in as served (None: before it was recorded)
    quality: dict | None = None  # a panel's quality figures as served (similar examples, concepts); None: a map


@dataclass(frozen=True)
class ShownTrial:
    """What a trial phase showed, recorded when it was first shown (``shown_at`` is set by the store)."""

    trial_index: int
    phase: str
    checkpoint_sha256: str
    image_sha256: str
    target_index: int | None
    target_label: str | None
    maps: tuple[ShownMapRecord, ...] = ()
    participant_id: int | None = None  # filled when read back
    shown_at: dt.datetime | None = None  # filled when read back


@dataclass(frozen=True)
class StoredResponse:
    participant_id: int
    trial_index: int
    phase: str
    task: str
    image_id: str
    shown_at: dt.datetime | None
    answered_at: dt.datetime
    response_time_ms: int | None
    answer: dict
    answer_sha256: str
    correct: bool | None
    is_attention_check: bool
    attention_passed: bool | None
    signals: Mapping[str, int | None] | None = None  # hidden_count, hidden_ms, blur_count, blur_ms


@dataclass(frozen=True)
class StoredQuestionnaireAnswer:
    participant_id: int
    questionnaire: str
    question_id: str
    answer: object
    shown_at: dt.datetime | None
    answered_at: dt.datetime


@dataclass(frozen=True)
class StoredBotSignals:
    """One answered step's bot signals (:data:`BOT_SIGNAL_COLUMNS` in ``signals``): a trial phase
    (``trial_index``, ``phase``) or a questionnaire page (``questionnaire``)."""

    participant_id: int
    stage: int
    trial_index: int | None
    phase: str | None
    questionnaire: str | None
    signals: Mapping[str, int | float | bool | None]


@dataclass(frozen=True)
class StoredEvent:
    id: int
    participant_id: int | None
    kind: str
    at: dt.datetime
    detail: dict
    sha256: str | None


def participant_record(row: ParticipantRow) -> ParticipantRecord:
    return ParticipantRecord(
        id=row.id, study_id=row.study_id, token_sha256=row.token_sha256, public_id=row.public_id, condition=row.condition,
        seed=row.seed, status=row.status, stage=row.stage, stage_shown_at=row.stage_shown_at,
        created_at=row.created_at, consented_at=row.consented_at, last_seen_at=row.last_seen_at,
        completed_at=row.completed_at, prolific_pid=row.prolific_pid, prolific_study_id=row.prolific_study_id,
        prolific_session_id=row.prolific_session_id, external_ids_hashed=row.external_ids_hashed,
        pilot=bool(row.pilot),
        synthetic=bool(row.synthetic),
    )


def study_record(row: StudyRow) -> StudyRecord:
    return StudyRecord(id=row.id, slug=row.slug, file_sha256=row.file_sha256, title=row.title,
                       created_at=row.created_at, id_key=row.id_key)


@dataclass(frozen=True)
class AuditEntry:
    """One line of the researcher audit log."""

    id: int
    at: dt.datetime
    action: str
    outcome: str
    actor: str
    study_slug: str | None
    detail: dict

