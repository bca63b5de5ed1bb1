"""Pilot runs, screen-outs and the browser's data-quality signals.

``participants.pilot`` marks a researcher's pilot run (never counted towards the assignment balance; left
out of exports unless asked for); the status ``screened_out`` needs no schema change. ``responses`` gains
what the browser reported while the trial was on screen: how often and how long the page was hidden and the
window unfocused. Rows stored before the upgrade keep NULL there (nothing is invented).

Revision ID: 0004_pilot_quality
Revises: 0003_shown_trials
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_pilot_quality"
down_revision: str | Sequence[str] | None = "0003_shown_trials"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNALS = ("hidden_count", "hidden_ms", "blur_count", "blur_ms")


# Plain ALTER TABLE ... ADD COLUMN on every backend (SQLite allows it for a nullable column or one with a
# default): a batch rebuild would recreate the SQLite tables without AUTOINCREMENT, and ids could come back.


def upgrade() -> None:
    op.add_column("participants", sa.Column("pilot", sa.Boolean(), nullable=False, server_default=sa.false()))
    for name in SIGNALS:
        op.add_column("responses", sa.Column(name, sa.Integer(), nullable=True))


def downgrade() -> None:
    for name in SIGNALS:
        op.drop_column("responses", name)
    op.drop_column("participants", "pilot")
