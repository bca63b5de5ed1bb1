"""What a participant was shown, recorded when it was shown: table ``shown_trials``.

One row per trial phase first served to a participant: checkpoint and image hashes, the class the maps
explain, and per map its attribution-cache key and the SHA-256 of the PNG as served (``maps_json``). The
export reads these rows instead of reconstructing provenance from the cache. Participants of an upgraded
study have no rows for phases shown before the upgrade (their export cells stay empty: nothing is invented).

Revision ID: 0003_shown_trials
Revises: 0002_ids_secrets_audit
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_shown_trials"
down_revision: str | Sequence[str] | None = "0002_ids_secrets_audit"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shown_trials",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("participant_id", sa.Integer(), nullable=False),
        sa.Column("trial_index", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("shown_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("checkpoint_sha256", sa.String(128), nullable=False),
        sa.Column("image_sha256", sa.String(64), nullable=False),
        sa.Column("target_index", sa.Integer(), nullable=True),
        sa.Column("target_label", sa.Text(), nullable=True),
        sa.Column("maps_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["participant_id"], ["participants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("participant_id", "trial_index", "phase", name="uq_shown_trial_phase"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_shown_trials_participant_id", "shown_trials", ["participant_id"])


def downgrade() -> None:
    op.drop_index("ix_shown_trials_participant_id", table_name="shown_trials")
    op.drop_table("shown_trials")
