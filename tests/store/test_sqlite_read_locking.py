"""On SQLite, page loads (pure reads) must not queue behind a writer: a load test saw 'database is locked'
on participant_by_token when every transaction began with BEGIN IMMEDIATE."""

from sqlalchemy import event

from study_app.store import Repository, make_engine


def _begins(engine):
    seen = []

    @event.listens_for(engine, "before_cursor_execute")
    def _record(conn, cursor, statement, *args):
        if statement.startswith("BEGIN"):
            seen.append(statement)

    return seen


def test_reads_begin_deferred_and_writes_immediate(tmp_path):
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    seen = _begins(repo.engine)
    repo.participant_by_token("nobody")
    assert seen == ["BEGIN"]
    seen.clear()
    import datetime as dt

    repo.ensure_study("s", "0" * 64, "title", dt.datetime.now(dt.UTC))
    assert "BEGIN IMMEDIATE" in seen


def test_a_read_succeeds_while_another_connection_holds_the_write_lock(tmp_path):
    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}"))
    with repo.engine.connect() as writer:
        writer.exec_driver_sql("SELECT 1")  # the begin hook ran BEGIN IMMEDIATE: the write lock is held
        assert writer.in_transaction()
        # A deferred read in WAL mode reads a snapshot instead of waiting out the busy timeout.
        assert repo.participant_by_token("nobody") is None
        assert repo.count_rows()["participants"] == 0
