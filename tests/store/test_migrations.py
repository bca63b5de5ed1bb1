"""Schema upgrades: databases are created through the migrations, and an upgrade keeps every row.

Each test runs on SQLite and on PostgreSQL. A "later release" is simulated by copying the shipped
migrations folder and adding a revision to the copy, so nothing here depends on the revisions that exist.
"""

from __future__ import annotations

import random
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.engine import make_url
from study.kit import answer_for, run_participant

from study_app.cli import main as cli_main
from study_app.store import Repository, make_engine
from study_app.store.login_throttle import LoginThrottle
from study_app.store.migrate import (
    BASELINE_REVISION,
    HEAD_COMMAND,
    MIGRATIONS_DIR,
    PG_LOCK_SQL,
    SchemaMismatch,
    _run,
    ensure_schema,
    schema_state,
    scripts,
    upgrade_database,
)
from study_app.store.schema import Base
from study_app.study.bot_signals import summarise
from study_app.study.quality import keep_signals

REPO_ROOT = Path(__file__).resolve().parents[2]
NEW_REVISION = "0099_test_note"
POST_QUESTIONNAIRE = """
[[post_questionnaire]]
id = "thoughts"
text = "Anything else?"
kind = "text"
"""


@pytest.fixture
def later_release(tmp_path) -> Path:
    """The shipped migrations plus one revision: a nullable ``responses.note`` and ``participants.cohort``.

    On SQLite ``participants`` is rebuilt by copy-and-move (``recreate="always"``): dropping the old table
    would cascade into every answer if the migration ran with foreign keys on.
    """
    folder = tmp_path / "migrations"
    shutil.copytree(MIGRATIONS_DIR, folder, ignore=shutil.ignore_patterns("__pycache__"))
    head = scripts().get_current_head()
    (folder / "versions" / f"{NEW_REVISION}.py").write_text(textwrap.dedent(f'''\
        import sqlalchemy as sa
        from alembic import op

        revision = "{NEW_REVISION}"
        down_revision = "{head}"
        branch_labels = None
        depends_on = None


        def upgrade():
            with op.batch_alter_table("responses") as batch:
                batch.add_column(sa.Column("note", sa.Text(), nullable=True))
            sqlite = op.get_bind().dialect.name == "sqlite"
            with op.batch_alter_table("participants", recreate="always" if sqlite else "auto") as batch:
                batch.add_column(sa.Column("cohort", sa.String(32), nullable=True))


        def downgrade():
            with op.batch_alter_table("participants") as batch:
                batch.drop_column("cohort")
            with op.batch_alter_table("responses") as batch:
                batch.drop_column("note")
        '''), encoding="utf-8")
    return folder


def _fill(repository, make_study, make_engine_for, clock, participants: int = 3) -> int:
    """Real participants through the engine (responses, questionnaires, events), a withdrawal, one unfinished."""
    engine = make_engine_for(make_study("verification", trials=3, checks=1, tail=POST_QUESTIONNAIRE), repository)
    tokens = [run_participant(engine, random.Random(i), clock=clock)[0] for i in range(participants)]
    engine.withdraw(tokens[0])  # deletes that participant's rows and logs the withdrawal
    token = engine.start_or_resume(None)  # one participant still in progress
    step = engine.current_step(token)
    for _ in range(3):  # with the browser's bot signals (table bot_signals)
        step = engine.submit(token, step.step_id, answer_for(step, random.Random(9)), signals=summarise(
            {"pointer_moves": 3, "key_presses": 2, "key_interval_list": [120, 180], "honeypot": False}))
    keep_signals(engine, token, step, {"hidden_count": 1, "hidden_ms": 700}, "fill01")  # kept, not yet answered
    LoginThrottle(repository, clock=clock).attempt(False)  # a failed researcher login: throttle + audit rows
    done = repository.participant_by_token(tokens[1]).id  # its Prolific submission (table prolific_submissions)
    repository.record_submissions({done: "APPROVED"}, clock(), bonus_minor={done: 50})
    counts = repository.count_rows()
    assert all(counts.values()), counts  # every table holds rows, so "kept" below means something
    return engine.record.id


def _dump(engine) -> dict[str, list[tuple]]:
    """Every row of every study table (the columns schema.py knows), in primary-key order."""
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            reflected = sa.Table(table.name, sa.MetaData(), autoload_with=conn)
            columns = [reflected.c[c.name] for c in table.columns]
            order = [reflected.c[c.name] for c in table.primary_key.columns]
            out[table.name] = [tuple(row) for row in conn.execute(sa.select(*columns).order_by(*order))]
    return out


def make_previous_release(engine) -> None:
    """The tables as the release before migrations made them (the baseline revision, no version table)."""
    with engine.begin() as conn:
        _run(conn, MIGRATIONS_DIR, BASELINE_REVISION)
        conn.execute(sa.text("DROP TABLE alembic_version"))


def _version_rows(engine) -> list[str]:
    with engine.connect() as conn:
        return [row[0] for row in conn.execute(sa.text("SELECT version_num FROM alembic_version"))]


def _columns(engine, table: str) -> set[str]:
    return {c["name"] for c in sa.inspect(engine).get_columns(table)}


def test_a_fresh_database_is_created_through_the_migrations(db_url):
    repo = Repository(make_engine(db_url))
    try:
        head = scripts().get_current_head()
        assert _version_rows(repo.engine) == [head]
        assert schema_state(repo.engine) == (head, head)
        assert set(repo.count_rows()) <= set(sa.inspect(repo.engine).get_table_names())
        Repository(repo.engine)  # a second server on the same database: at head, nothing to do
        assert _version_rows(repo.engine) == [head]
    finally:
        repo.dispose()


def test_an_upgrade_that_adds_columns_keeps_every_row(db_url, later_release, make_study, make_engine_for, clock):
    repo = Repository(make_engine(db_url))
    try:
        study_id = _fill(repo, make_study, make_engine_for, clock)
        before = _dump(repo.engine)
        responses_before = list(repo.responses(study_id))

        with pytest.raises(SchemaMismatch, match=HEAD_COMMAND):  # the server of the new release refuses
            ensure_schema(repo.engine, script_location=later_release)
        assert _version_rows(repo.engine) == [scripts().get_current_head()]  # and changed nothing

        assert upgrade_database(db_url, script_location=later_release) == NEW_REVISION
        assert _version_rows(repo.engine) == [NEW_REVISION]
        assert "note" in _columns(repo.engine, "responses")
        assert "cohort" in _columns(repo.engine, "participants")
        assert _dump(repo.engine) == before
        assert list(repo.responses(study_id)) == responses_before
        assert ensure_schema(repo.engine, script_location=later_release) == NEW_REVISION
        with repo.engine.begin() as conn:  # the new column is usable
            conn.execute(sa.text("UPDATE responses SET note = 'checked'"))
        assert upgrade_database(db_url, script_location=later_release) == NEW_REVISION  # idempotent
    finally:
        repo.dispose()


def test_a_previous_release_database_is_stamped_and_keeps_working(db_url, later_release):
    engine = make_engine(db_url)
    try:
        make_previous_release(engine)
        with engine.begin() as conn:  # a row, so "kept" below means something
            conn.execute(sa.text("INSERT INTO studies (id, slug, file_sha256, title, created_at, id_key) "
                                 "VALUES (1, 's', :h, 'T', :t, :k)"),
                         {"h": "a" * 64, "t": "2026-01-01 00:00:00", "k": "b" * 64})
        assert "alembic_version" not in sa.inspect(engine).get_table_names()

        # A release whose head is past the baseline asks for the upgrade and changes nothing.
        with pytest.raises(SchemaMismatch, match="without schema migrations") as refused:
            ensure_schema(engine, script_location=later_release)
        assert HEAD_COMMAND in str(refused.value)
        assert "alembic_version" not in sa.inspect(engine).get_table_names()

        if scripts().get_current_head() == BASELINE_REVISION:
            Repository(engine)  # stamped silently: same schema, no command needed
            assert _version_rows(engine) == [BASELINE_REVISION]
        else:  # once the shipped code has moved past the baseline, it must ask as well
            with pytest.raises(SchemaMismatch, match=HEAD_COMMAND):
                Repository(engine)

        assert upgrade_database(engine, script_location=later_release) == NEW_REVISION
        assert _version_rows(engine) == [NEW_REVISION]
        assert [s.slug for s in Repository(engine, create_tables=False).studies()] == ["s"]
    finally:
        engine.dispose()


def test_tables_that_are_not_the_baseline_are_never_stamped(db_url):
    engine = make_engine(db_url)
    try:
        Base.metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE events DROP COLUMN sha256"))
        for call in (lambda: ensure_schema(engine), lambda: upgrade_database(engine)):
            with pytest.raises(SchemaMismatch, match="events: missing column sha256"):
                call()
        assert "alembic_version" not in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()


def test_a_database_at_another_revision_is_refused_with_the_command(db_url, later_release):
    engine = make_engine(db_url)
    try:
        ensure_schema(engine)
        with pytest.raises(SchemaMismatch) as refused:
            ensure_schema(engine, script_location=later_release)
        message = str(refused.value)
        head = scripts().get_current_head()
        assert f"revision {head}" in message and NEW_REVISION in message
        assert f"run: {HEAD_COMMAND} --db " in message
        password = make_url(db_url).password
        if password:
            assert f":{password}@" not in message  # the URL is shown without its password
        assert (refused.value.db_revision, refused.value.head_revision) == (head, NEW_REVISION)

        with engine.begin() as conn:  # a newer release upgraded this database: never "downgrade"
            conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
        with pytest.raises(SchemaMismatch, match="newer release"):
            ensure_schema(engine)
        with pytest.raises(SchemaMismatch, match="newer release"):
            upgrade_database(engine)
    finally:
        engine.dispose()


def test_an_empty_database_is_not_created_when_not_asked(db_url):
    engine = make_engine(db_url)
    try:
        with pytest.raises(SchemaMismatch, match="no study tables"):
            ensure_schema(engine, create_if_empty=False)
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()


def test_the_migrations_produce_exactly_the_schema_in_schema_py(db_url):
    """The guard: changing schema.py without adding a migration fails here (``xai-study db revision``)."""
    engine = make_engine(db_url)
    try:
        upgrade_database(engine)
        with engine.connect() as conn:
            context = MigrationContext.configure(conn)
            differences = compare_metadata(context, Base.metadata)
            assert differences == [], (
                "schema.py differs from the migrations; write one with: xai-study db revision -m '...'")
            changed = sa.MetaData()
            for table in Base.metadata.sorted_tables:
                table.to_metadata(changed)
            changed.tables["responses"].append_column(sa.Column("note", sa.Text(), nullable=True))
            assert [d[0] for d in compare_metadata(context, changed)] == ["add_column"]  # it can fail
    finally:
        engine.dispose()


UPGRADER = "import sys; from study_app.store.migrate import upgrade_database; print(upgrade_database(sys.argv[1]))"


def _waiting_advisory_locks(conn) -> int:
    return conn.execute(sa.text(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
        "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).scalar_one()


def test_processes_upgrading_at_once_create_the_schema_once(db_url):
    """Hold the migration lock, start two upgraders, release: both succeed and the schema exists once."""
    engine = make_engine(db_url)
    procs = []
    try:
        with engine.connect() as holder, holder.begin():
            if engine.dialect.name == "postgresql":
                holder.execute(sa.text(PG_LOCK_SQL))
            else:
                holder.exec_driver_sql("SELECT 1")  # make_engine's BEGIN IMMEDIATE holds the write lock
            procs = [subprocess.Popen([sys.executable, "-c", UPGRADER, db_url], cwd=REPO_ROOT,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for _ in range(2)]
            deadline = time.monotonic() + 60
            if engine.dialect.name == "postgresql":
                probe = sa.create_engine(db_url)
                with probe.connect() as conn:
                    while _waiting_advisory_locks(conn) < 2:  # both are inside upgrade_database, blocked
                        assert time.monotonic() < deadline, [p.poll() for p in procs]
                        assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
                        time.sleep(0.1)
                        conn.rollback()
                probe.dispose()
            else:
                time.sleep(3)
                assert all(p.poll() is None for p in procs)  # waiting for the write lock
        results = [p.communicate(timeout=90) + (p.returncode,) for p in procs]
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
    head = scripts().get_current_head()
    assert [(rc, out.strip()) for out, _, rc in results] == [(0, head), (0, head)], results
    assert _version_rows(engine) == [head]
    engine.dispose()


def test_cli_db_status_and_upgrade(tmp_path, capsys, later_release):
    url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    assert cli_main(["db", "status", "--db", url]) == 1  # no such file: never created by status
    assert "no database at" in capsys.readouterr().err
    engine = make_engine(url)
    make_previous_release(engine)
    head = scripts().get_current_head()

    assert cli_main(["db", "status", "--db", url]) == 1
    assert f"run: {HEAD_COMMAND} --db {url}" in capsys.readouterr().out
    assert cli_main(["db", "upgrade", "--db", url]) == 0
    assert f"to {head}" in capsys.readouterr().out
    assert cli_main(["db", "status", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"db revision:   {head}" in out and "up to date" in out

    study = tmp_path / "study.toml"  # --study: the database next to the study file, as the app finds it
    study.write_text("", encoding="utf-8")
    assert cli_main(["db", "status", "--study", str(study)]) == 0
    capsys.readouterr()

    later = ["--migrations", str(later_release)]
    assert cli_main(["db", "status", "--study", str(study), *later]) == 1
    assert cli_main(["db", "upgrade", "--study", str(study), *later]) == 0
    assert f"from {head} to {NEW_REVISION}" in capsys.readouterr().out
    engine.dispose()

    done = subprocess.run([sys.executable, "-m", "study_app.cli", "db", "status", "--study", str(study), *later],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and NEW_REVISION in done.stdout, done


def test_cli_db_revision_writes_a_numbered_revision(later_release, tmp_path, capsys):
    shipped = shutil.copytree(MIGRATIONS_DIR, tmp_path / "shipped", ignore=shutil.ignore_patterns("__pycache__"))
    assert cli_main(["db", "revision", "-m", "nothing changed", "--migrations", str(shipped)]) == 1
    assert "nothing to write" in capsys.readouterr().out
    number = len(list(scripts(later_release).walk_revisions())) + 1  # the shipped revisions plus the test one
    assert cli_main(["db", "revision", "-m", "drop the test columns", "--migrations", str(later_release)]) == 0
    written = (later_release / "versions" / f"{number:04d}_drop_the_test_columns.py").read_text(encoding="utf-8")
    assert "drop_column('note')" in written and "drop_column('cohort')" in written  # autogenerated
    (later_release / "versions" / f"{number:04d}_drop_the_test_columns.py").unlink()
    assert cli_main(["db", "revision", "-m", "Backfill notes!", "--empty", "--migrations", str(later_release)]) == 0
    written = sorted(p.name for p in (later_release / "versions").glob("*.py"))
    assert f"{number:04d}_backfill_notes.py" in written, written
    assert scripts(later_release).get_current_head() == f"{number:04d}_backfill_notes"
    assert scripts(later_release).get_revision(f"{number:04d}_backfill_notes").down_revision == NEW_REVISION


def test_an_in_memory_sqlite_database_works():
    repo = Repository(make_engine("sqlite://"))  # one connection per thread: migrated on that connection
    assert set(repo.count_rows()) == {t.name for t in Base.metadata.sorted_tables}
    assert schema_state(repo.engine)[0] == scripts().get_current_head()
    repo.dispose()


def test_check_and_export_name_the_upgrade_for_an_older_database(tmp_path, capsys, make_study):
    """``xai-study check`` reports a database whose schema is older than the code (with the command), and
    ``xai-study export`` says the same in one line instead of a traceback."""
    from study_app.readiness import _database
    from study_app.settings import resolve_settings

    url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    study = make_study("verification", trials=2)
    settings = resolve_settings({}, env={"XAI_STUDY_FILE": study.source})
    assert "empty: tables are created on first use" in _database(settings, url)
    engine = make_engine(url)
    upgrade_database(engine)
    assert "(schema " in _database(settings, url)
    with engine.begin() as conn:  # as if this database were still at the previous revision
        conn.execute(sa.text("UPDATE alembic_version SET version_num = :rev"), {"rev": BASELINE_REVISION})
    engine.dispose()
    with pytest.raises(RuntimeError, match=f"{HEAD_COMMAND} --db "):
        _database(settings, url)
    assert cli_main(["export", "--study", study.source, "--db", url, "--out", str(tmp_path / "r.csv")]) != 0
    err = capsys.readouterr().err
    assert HEAD_COMMAND in err and "Traceback" not in err
