"""Synthetic participants (``xai-study simulate``).

``participants.synthetic`` marks a participant the simulator walked through the engine: balanced only against
other synthetic participants, never counted towards a real participant's assignment, and left out of exports,
the Analysis and the Progress pages unless asked for. Rows stored before the upgrade are real (false).

Revision ID: 0006_synthetic_participants
Revises: 0005_trial_signals
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_synthetic_participants"
down_revision: str | Sequence[str] | None = "0005_trial_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# Plain ALTER TABLE ... ADD COLUMN (see 0004): a batch rebuild would drop SQLite's AUTOINCREMENT.


def upgrade() -> None:
    op.add_column("participants", sa.Column("synthetic", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    op.drop_column("participants", "synthetic")
