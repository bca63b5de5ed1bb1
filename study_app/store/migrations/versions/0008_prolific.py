"""Prolific submission status and bonus paid per participant (issue 26 item 4).

``prolific_submissions`` holds, per participant matched with a Prolific submission by ``xai-study prolific``
(or the Researcher area's Prolific section), the submission's status as Prolific last listed it and the bonus
paid through us, in the study's currency's minor unit (pence or cents). The participants export reads it.
Existing participants get no row (their export columns stay empty until the next ``prolific status``).

Revision ID: 0008_prolific
Revises: 0007_bot_signals
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_prolific"
down_revision: str | Sequence[str] | None = "0007_bot_signals"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prolific_submissions",
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("bonus_paid_minor", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("participant_id"),
    )


def downgrade() -> None:
    op.drop_table("prolific_submissions")
