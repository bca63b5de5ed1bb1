"""Ids never reused, resume tokens hashed, researcher audit log and login throttle.

* SQLite: ``participants``, ``responses``, ``questionnaire_answers`` and ``events`` are rebuilt with
  ``AUTOINCREMENT`` (batch mode, ``recreate="always"``; migrate.py runs migrations with foreign keys off, so
  the rebuild of ``participants`` does not cascade into the answers). The participants' sequence starts
  above every id ever seen, including ids only a withdrawal event still remembers.
* Withdrawal events lose their participant id (NULL): a later deletion by participant id can never take
  them with it.
* ``participants.token`` (clear text) becomes ``token_sha256``; existing tokens are hashed here, so the
  participants of an upgraded study still resume with the link they hold.
* ``studies.id_key`` becomes nullable: new studies keep the external-id key outside the database.
* New tables ``researcher_log`` (audit) and ``login_throttle``.

Revision ID: 0002_ids_secrets_audit
Revises: 0001_baseline
Create Date: 2026-01-02
"""

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_ids_secrets_audit"
down_revision: str | Sequence[str] | None = "0001_baseline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUTOINCREMENT_TABLES = ("participants", "responses", "questionnaire_answers", "events")


def _utc() -> sa.DateTime:
    return sa.DateTime(timezone=True)


def _batch(table: str, sqlite: bool):
    if sqlite:
        return op.batch_alter_table(table, recreate="always", table_kwargs={"sqlite_autoincrement": True})
    return op.batch_alter_table(table)


def upgrade() -> None:
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    highest_participant = bind.execute(sa.text(
        "SELECT MAX(m) FROM (SELECT MAX(id) AS m FROM participants "
        "UNION ALL SELECT MAX(participant_id) FROM events) AS seen")).scalar() or 0

    # Tokens -> SHA-256, row by row in Python (no portable SQL sha256); a study has thousands of rows at most.
    with op.batch_alter_table("participants") as batch:
        batch.add_column(sa.Column("token_sha256", sa.String(64), nullable=True))
    participants = sa.table("participants", sa.column("id", sa.Integer), sa.column("token", sa.String),
                            sa.column("token_sha256", sa.String))
    for pid, token in bind.execute(sa.select(participants.c.id, participants.c.token)).all():
        bind.execute(participants.update().where(participants.c.id == pid).values(
            token_sha256=hashlib.sha256(token.encode("utf-8")).hexdigest()))
    with _batch("participants", sqlite) as batch:
        batch.drop_column("token")
        batch.alter_column("token_sha256", existing_type=sa.String(64), nullable=False)
        batch.create_unique_constraint("uq_participants_token_sha256", ["token_sha256"])

    events = sa.table("events", sa.column("kind", sa.String), sa.column("participant_id", sa.Integer))
    bind.execute(events.update().where(events.c.kind == "withdrawal").values(participant_id=None))
    for table in AUTOINCREMENT_TABLES[1:]:
        if sqlite:
            with _batch(table, sqlite):
                pass  # the rebuild itself is the change: CREATE TABLE ... AUTOINCREMENT
    if sqlite and highest_participant:
        # The copy set the sequence to the highest *remaining* id; a withdrawn participant may have had a
        # higher one, which must not be handed out again.
        seq = bind.execute(sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'participants'")).scalar()
        if seq is None:
            bind.execute(sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('participants', :m)"),
                         {"m": highest_participant})
        elif seq < highest_participant:
            bind.execute(sa.text("UPDATE sqlite_sequence SET seq = :m WHERE name = 'participants'"),
                         {"m": highest_participant})

    if bind.dialect.name == "postgresql":
        _raise_pg_sequences(bind, highest_participant)

    with op.batch_alter_table("studies") as batch:
        batch.alter_column("id_key", existing_type=sa.String(64), nullable=True)

    op.create_table(
        "researcher_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", _utc(), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("study_slug", sa.String(64), nullable=True),
        sa.Column("detail_json", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_researcher_log_at", "researcher_log", ["at"])
    op.create_table(
        "login_throttle",
        sa.Column("scope", sa.String(64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", _utc(), nullable=True),
        sa.Column("locked_until", _utc(), nullable=True),
        sa.PrimaryKeyConstraint("scope"),
    )


def _raise_pg_sequences(bind, highest_participant: int) -> None:
    """Sequences never go back on PostgreSQL, but one can lag its table (rows copied with their ids, a
    partial restore): move each to at least the highest id in use (participants: ever seen)."""
    for table in ("studies", *AUTOINCREMENT_TABLES):
        seq = bind.execute(sa.text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table}).scalar()
        if seq is None:
            continue
        highest = bind.execute(sa.text(f"SELECT MAX(id) FROM {table}")).scalar() or 0  # noqa: S608 - fixed names
        if table == "participants":
            highest = max(highest, highest_participant)
        last, called = bind.execute(sa.text(f"SELECT last_value, is_called FROM {seq}")).one()  # noqa: S608
        if highest > (last if called else last - 1):
            bind.execute(sa.text("SELECT setval(:s, :v)"), {"s": seq, "v": highest})


def downgrade() -> None:
    raise NotImplementedError("resume tokens are stored as hashes from 0002 on; restore a backup instead")
