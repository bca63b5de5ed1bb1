"""The browser's page signals kept per trial and page load as they change, so a reload continues them.

``trial_signals`` holds, per participant, trial phase and page load (a random id the page draws), how often
and how long the page was hidden and the window unfocused so far. When the answer is stored, the counts of
the phase's earlier page loads are added to the submitted ones in ``responses`` and these rows deleted.
Existing rows are untouched: the new table starts empty.

Revision ID: 0005_trial_signals
Revises: 0004_pilot_quality
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_trial_signals"
down_revision: str | Sequence[str] | None = "0004_pilot_quality"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNALS = ("hidden_count", "hidden_ms", "blur_count", "blur_ms")


def upgrade() -> None:
    op.create_table(
        "trial_signals",
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("trial_index", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("page_load", sa.String(32), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in SIGNALS),
        sa.PrimaryKeyConstraint("participant_id", "trial_index", "phase", "page_load"),
    )


def downgrade() -> None:
    op.drop_table("trial_signals")
