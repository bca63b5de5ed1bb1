"""Database tables (SQLAlchemy 2.0 declarative). Only :mod:`study_app.store` touches these classes.

Answers are stored as canonical JSON in ``Text`` columns rather than a JSON type: PostgreSQL's ``jsonb``
rejects ``\\u0000`` while participants can type anything, and the hash in the event log is computed over
exactly this text. No IP address or user agent is ever stored.

Ids are never reused, on any backend: every table whose rows a withdrawal deletes is ``AUTOINCREMENT`` on
SQLite (PostgreSQL sequences never go back anyway). Without it SQLite hands the largest deleted rowid to the
next insert, and anything still keyed by the old id (a cached plan in another server process, an event)
would silently attach to a newcomer.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    """Timezone-aware UTC in and out on every backend (SQLite would otherwise hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None:
            if value.tzinfo is None:
                raise ValueError("naive datetime: the store only takes timezone-aware UTC times")
            value = value.astimezone(dt.UTC)
            if dialect.name == "sqlite":
                value = value.replace(tzinfo=None)
        return value

    def process_result_value(self, value, dialect):
        if value is not None:
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        return value


class Base(DeclarativeBase):
    pass


class StudyRow(Base):
    """One row per study *version*: a changed file (new hash) starts a new row, so balance and exports never
    mix participants who saw different studies."""

    __tablename__ = "studies"
    __table_args__ = (UniqueConstraint("slug", "file_sha256", name="uq_study_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(64))
    file_sha256: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    # HMAC key for external ids kept *in the database*: only for studies begun before revision 0002 or run
    # with ``id_key = "database"`` (see study_app.study.id_key); never exported. NULL otherwise.
    id_key: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ParticipantRow(Base):
    __tablename__ = "participants"
    __table_args__ = (
        Index("ix_participants_study_status", "study_id", "status"),
        Index("ix_participants_study_pid", "study_id", "prolific_pid"),
        UniqueConstraint("token_sha256", name="uq_participants_token_sha256"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"))
    # SHA-256 (hex) of the resume token, never the token: it is a bearer credential, and whoever reads the
    # database must not be able to take over a session. A token is 144 random bits, so no salt is needed.
    token_sha256: Mapped[str] = mapped_column(String(64))
    public_id: Mapped[str] = mapped_column(String(32), unique=True)  # pseudonym for exports
    condition: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16))  # active | completed | screened_out
    stage: Mapped[int] = mapped_column(Integer)  # index into the participant's step list
    stage_shown_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    consented_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    prolific_pid: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prolific_study_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    prolific_session_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    external_ids_hashed: Mapped[bool] = mapped_column(Boolean)
    # A researcher's pilot run (the pilot link): stored like any participant, never counted towards the
    # assignment balance, left out of exports and analysis unless asked for.
    pilot: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A synthetic participant of ``xai-study simulate``: balanced only against other synthetic ones, left out of
    # exports, analysis and progress unless asked for.
    synthetic: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class AssignmentRow(Base):
    """The condition and the full trial plan a participant was given (JSON), so resuming never re-randomises."""

    __tablename__ = "assignments"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    condition: Mapped[int] = mapped_column(Integer)
    condition_label: Mapped[str] = mapped_column(String(64))
    plan_json: Mapped[str] = mapped_column(Text)
    plan_sha256: Mapped[str] = mapped_column(String(64))


class ResponseRow(Base):
    """One answered trial phase. The unique constraint is what makes submits idempotent under races."""

    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("participant_id", "trial_index", "phase", name="uq_response_trial_phase"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    trial_index: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))
    task: Mapped[str] = mapped_column(String(64))
    image_id: Mapped[str] = mapped_column(Text)
    shown_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    response_time_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    answer_json: Mapped[str] = mapped_column(Text)
    answer_sha256: Mapped[str] = mapped_column(String(64))
    correct: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    is_attention_check: Mapped[bool] = mapped_column(Boolean)
    attention_passed: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    # What the browser reported while the trial was on screen (Page Visibility API, window focus); NULL when
    # it reported nothing (e.g. the answer reached a server that had not drawn the trial).
    hidden_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    hidden_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    blur_count: Mapped[int | None] = mapped_column(Integer, nullable=True)
    blur_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)


class ShownTrialRow(Base):
    """What a participant was shown on one trial phase, written when it was first shown (in the same
    transaction that marks the stage shown), never reconstructed later: the checkpoint and image hashes, the
    class the maps explain, and per map its attribution-cache key and the SHA-256 of the PNG as served
    (``maps_json``, canonical JSON). The export reads these rows; a cache rebuilt afterwards cannot change them."""

    __tablename__ = "shown_trials"
    __table_args__ = (
        UniqueConstraint("participant_id", "trial_index", "phase", name="uq_shown_trial_phase"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    trial_index: Mapped[int] = mapped_column(Integer)
    phase: Mapped[str] = mapped_column(String(16))
    shown_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    checkpoint_sha256: Mapped[str] = mapped_column(String(128))
    image_sha256: Mapped[str] = mapped_column(String(64))
    target_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    target_label: Mapped[str | None] = mapped_column(Text, nullable=True)
    maps_json: Mapped[str] = mapped_column(Text)


class TrialSignalsRow(Base):
    """What the browser reported about one trial phase in one page load while it was on screen, kept as the
    counts change (migration 0005): a reload starts the page's counts afresh, and when the answer is stored
    the earlier page loads' counts are added to the submitted ones (then these rows are deleted). No
    autoincrement id: rows are keyed by participant, trial, phase and the page load's random id."""

    __tablename__ = "trial_signals"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    trial_index: Mapped[int] = mapped_column(Integer, primary_key=True)
    phase: Mapped[str] = mapped_column(String(16), primary_key=True)
    page_load: Mapped[str] = mapped_column(String(32), primary_key=True)
    hidden_count: Mapped[int] = mapped_column(Integer)
    hidden_ms: Mapped[int] = mapped_column(Integer)
    blur_count: Mapped[int] = mapped_column(Integer)
    blur_ms: Mapped[int] = mapped_column(Integer)


class BotSignalsRow(Base):
    """What the browser reported about one answered step (a trial phase or a questionnaire page) that only a
    person or only an automated agent would produce (migration 0007): pointer and key activity, events a
    script made, free-text paste and typing with its cadence, and the hidden item only an agent reads (see
    :mod:`study_app.study.bot_signals`). Keyed by the participant's stage; no row when the browser sent
    nothing (a simulated participant, an answer stored before 0007)."""

    __tablename__ = "bot_signals"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    stage: Mapped[int] = mapped_column(Integer, primary_key=True)
    trial_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    phase: Mapped[str | None] = mapped_column(String(16), nullable=True)
    questionnaire: Mapped[str | None] = mapped_column(String(64), nullable=True)
    pointer_moves: Mapped[int] = mapped_column(Integer)
    pointer_path_px: Mapped[int] = mapped_column(Integer)
    pointer_clicks: Mapped[int] = mapped_column(Integer)
    key_presses: Mapped[int] = mapped_column(Integer)
    untrusted_events: Mapped[int] = mapped_column(Integer)
    text_fields: Mapped[int] = mapped_column(Integer)
    paste_count: Mapped[int] = mapped_column(Integer)
    pasted_chars: Mapped[int] = mapped_column(Integer)
    typed_chars: Mapped[int] = mapped_column(Integer)
    key_intervals: Mapped[int] = mapped_column(Integer)
    key_interval_median_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    key_interval_iqr_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    honeypot: Mapped[bool] = mapped_column(Boolean)
    viewport_width: Mapped[int | None] = mapped_column(Integer, nullable=True)
    viewport_height: Mapped[int | None] = mapped_column(Integer, nullable=True)
    touch_screen: Mapped[bool | None] = mapped_column(Boolean, nullable=True)


class ProlificSubmissionRow(Base):
    """A participant's Prolific submission as ``xai-study prolific`` last saw it (migration 0008): its status as
    Prolific listed it and the bonus paid through us in the currency's minor unit. No Prolific id is kept."""

    __tablename__ = "prolific_submissions"

    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), primary_key=True)
    status: Mapped[str] = mapped_column(String(32))
    bonus_paid_minor: Mapped[int] = mapped_column(Integer)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class QuestionnaireAnswerRow(Base):
    __tablename__ = "questionnaire_answers"
    __table_args__ = (
        UniqueConstraint("participant_id", "questionnaire", "question_id", name="uq_questionnaire_answer"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    participant_id: Mapped[int] = mapped_column(ForeignKey("participants.id", ondelete="CASCADE"), index=True)
    questionnaire: Mapped[str] = mapped_column(String(16))  # pre | post
    question_id: Mapped[str] = mapped_column(String(64))
    answer_json: Mapped[str] = mapped_column(Text)
    shown_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    answered_at: Mapped[dt.datetime] = mapped_column(UTCDateTime())


class EventRow(Base):
    """Append-only log. The application only ever inserts here; the one deletion is a withdrawal erasing
    the withdrawing participant's own events, which is itself logged.

    ``participant_id`` is deliberately not a foreign key. The withdrawal event itself carries no participant
    id (NULL; the pseudonym is in its detail), so no later deletion keyed by a participant id can touch it.
    """

    __tablename__ = "events"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("studies.id"), index=True)
    participant_id: Mapped[int | None] = mapped_column(Integer, nullable=True, index=True)
    kind: Mapped[str] = mapped_column(String(32))  # consent | answer | completion | withdrawal | export
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    detail_json: Mapped[str] = mapped_column(Text)
    sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ResearcherLogRow(Base):
    """The researcher audit log (as REDCap's): every login, failed or refused login, export, backup and
    participant withdrawal, with time and outcome. Append-only and never touched by a withdrawal; holds no
    participant data (a withdrawal names only the exported pseudonym, so earlier exports can be cleaned)."""

    __tablename__ = "researcher_log"
    __table_args__ = (Index("ix_researcher_log_at", "at"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime())
    action: Mapped[str] = mapped_column(String(32))  # login | export | withdrawal | backup | restore
    outcome: Mapped[str] = mapped_column(String(32))  # ok | wrong_password | locked | failed
    actor: Mapped[str] = mapped_column(String(64))  # "web" or "cli (<os user>)": one shared password, no users
    study_slug: Mapped[str | None] = mapped_column(String(64), nullable=True)
    detail_json: Mapped[str] = mapped_column(Text)


class LoginThrottleRow(Base):
    """Failed researcher logins, counted for the whole deployment (every process reads this one row), so
    neither a reload, a second browser, another server process nor a restart resets the count."""

    __tablename__ = "login_throttle"

    scope: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime(), nullable=True)
