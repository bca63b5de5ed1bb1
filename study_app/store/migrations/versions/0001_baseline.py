"""Baseline: the study tables as released before migrations existed.

Written out table by table, not ``Base.metadata.create_all``, so it stays frozen when schema.py changes;
databases of that release (tables but no ``alembic_version``) are stamped with this revision.

Revision ID: 0001_baseline
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_baseline"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "studies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("slug", sa.String(64), nullable=False),
        sa.Column("file_sha256", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("id_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug", "file_sha256", name="uq_study_version"),
    )
    op.create_table(
        "participants",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("token", sa.String(64), nullable=False),
        sa.Column("public_id", sa.String(32), nullable=False),
        sa.Column("condition", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("stage_shown_at", _utc(), nullable=True),
        sa.Column("created_at", _utc(), nullable=False),
        sa.Column("consented_at", _utc(), nullable=False),
        sa.Column("last_seen_at", _utc(), nullable=False),
        sa.Column("completed_at", _utc(), nullable=True),
        sa.Column("prolific_pid", sa.String(128), nullable=True),
        sa.Column("prolific_study_id", sa.String(128), nullable=True),
        sa.Column("prolific_session_id", sa.String(128), nullable=True),
        sa.Column("external_ids_hashed", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token"),
        sa.UniqueConstraint("public_id"),
    )
    op.create_index("ix_participants_study_status", "participants", ["study_id", "status"])
    op.create_index("ix_participants_study_pid", "participants", ["study_id", "prolific_pid"])
    op.create_table(
        "assignments",
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("condition", sa.Integer(), nullable=False),
        sa.Column("condition_label", sa.String(64), nullable=False),
        sa.Column("plan_json", sa.Text(), nullable=False),
        sa.Column("plan_sha256", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("participant_id"),
    )
    op.create_table(
        "responses",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("trial_index", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("task", sa.String(64), nullable=False),
        sa.Column("image_id", sa.Text(), nullable=False),
        sa.Column("shown_at", _utc(), nullable=True),
        sa.Column("answered_at", _utc(), nullable=False),
        sa.Column("response_time_ms", sa.Integer(), nullable=True),
        sa.Column("answer_json", sa.Text(), nullable=False),
        sa.Column("answer_sha256", sa.String(64), nullable=False),
        sa.Column("correct", sa.Boolean(), nullable=True),
        sa.Column("is_attention_check", sa.Boolean(), nullable=False),
        sa.Column("attention_passed", sa.Boolean(), nullable=True),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "trial_index", "phase", name="uq_response_trial_phase"),
    )
    op.create_index("ix_responses_participant_id", "responses", ["participant_id"])
    op.create_table(
        "questionnaire_answers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("questionnaire", sa.String(16), nullable=False),
        sa.Column("question_id", sa.String(64), nullable=False),
        sa.Column("answer_json", sa.Text(), nullable=False),
        sa.Column("shown_at", _utc(), nullable=True),
        sa.Column("answered_at", _utc(), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "questionnaire", "question_id", name="uq_questionnaire_answer"),
    )
    op.create_index("ix_questionnaire_answers_participant_id", "questionnaire_answers", ["participant_id"])
    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(["study_id"], ["studies.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_events_study_id", "events", ["study_id"])
    op.create_index("ix_events_participant_id", "events", ["participant_id"])


def downgrade() -> None:
    for index, table in [("ix_events_participant_id", "events"), ("ix_events_study_id", "events"),
                         ("ix_questionnaire_answers_participant_id", "questionnaire_answers"),
                         ("ix_responses_participant_id", "responses"),
                         ("ix_participants_study_pid", "participants"),
                         ("ix_participants_study_status", "participants")]:
        op.drop_index(index, table_name=table)
    for table in ["events", "questionnaire_answers", "responses", "assignments", "participants", "studies"]:
        op.drop_table(table)
