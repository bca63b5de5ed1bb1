"""Bot and LLM-agent signals per answered step (issue 25 item 4).

``bot_signals`` holds, per participant and answered step (a trial phase or a questionnaire page, keyed by the
participant's ``stage``), what the browser reported while the step's form was on screen: pointer activity
(moves, path length in CSS pixels, presses), key presses, events not made by the user agent (scripted), the
free-text fields' paste and typing counts with the typing cadence (median and interquartile range of the
inter-key intervals), whether the hidden item only an automated agent can read was answered, and the device
(window size, touch screen). A row is
written only when the browser reported: existing answers get none (their export columns stay empty).

Revision ID: 0007_bot_signals
Revises: 0006_synthetic_participants
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_bot_signals"
down_revision: str | Sequence[str] | None = "0006_synthetic_participants"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = ("pointer_moves", "pointer_path_px", "pointer_clicks", "key_presses", "untrusted_events", "text_fields",
          "paste_count", "pasted_chars", "typed_chars", "key_intervals")
CADENCE = ("key_interval_median_ms", "key_interval_iqr_ms")


def upgrade() -> None:
    op.create_table(
        "bot_signals",
        sa.Column("participant_id", sa.Integer(), sa.ForeignKey("participants.id", ondelete="CASCADE"),
                  nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("trial_index", sa.Integer(), nullable=True),
        sa.Column("phase", sa.String(16), nullable=True),
        sa.Column("questionnaire", sa.String(64), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
        *(sa.Column(name, sa.Float(), nullable=True) for name in CADENCE),
        sa.Column("honeypot", sa.Boolean(), nullable=False),
        sa.Column("viewport_width", sa.Integer(), nullable=True),
        sa.Column("viewport_height", sa.Integer(), nullable=True),
        sa.Column("touch_screen", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("participant_id", "stage"),
    )


def downgrade() -> None:
    op.drop_table("bot_signals")
