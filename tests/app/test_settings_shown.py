"""``xai-study check`` and the researcher's Readiness page print the settings table (setting, value, source)
and never a secret's value: the researcher password, the external-id key, a database URL's password."""

from __future__ import annotations

from app.conftest import PASSWORD_ENV
from app.drive import new_app, texts
from study_app.cli import main as cli_main
from study_app.ui import state_keys

PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105 - a test value
ID_KEY = "id-key-that-must-never-show-9f3a"
DB_PASSWORD = "db-pass-never-shown-77"  # noqa: S105 - a test value
UNREACHABLE_PG = f"postgresql+psycopg://xai:{DB_PASSWORD}@127.0.0.1:1/nowhere"  # port 1: refused at once
SECRETS = (PASSWORD, ID_KEY, DB_PASSWORD)
NAMES = ["study file", "researcher password", "database", "attribution cache", "external-id key",
         "processes (replicas)", "warm start", "page timing log"]


def settings_lines(out: str) -> dict[str, str]:
    block = out.split("settings (value [source]):\n", 1)[1].split("\n\n", 1)[0]
    return {line.strip().split("  ", 1)[0]: line.strip() for line in block.splitlines()}


def test_check_prints_every_setting_with_its_source_and_no_secret(setup_study, capsys, monkeypatch):
    setup = setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("XAI_STUDY_ID_KEY", ID_KEY)
    monkeypatch.setenv("XAI_STUDY_DB_URL", UNREACHABLE_PG)
    code = cli_main(["check", "--replicas", "2"])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert code == 1  # the database cannot be reached
    for secret in SECRETS:
        assert secret not in out
    rows = settings_lines(out)
    assert list(rows) == NAMES
    assert rows["study file"].endswith(f"{setup.study_file}  [environment XAI_STUDY_FILE]")
    assert rows["researcher password"].endswith(
        "set (from environment XAI_STUDY_RESEARCHER_PASSWORD)  [environment XAI_STUDY_RESEARCHER_PASSWORD]")
    assert "postgresql+psycopg://xai:***@127.0.0.1:1/nowhere  [environment XAI_STUDY_DB_URL]" in rows["database"]
    assert rows["attribution cache"].endswith("[environment XAI_STUDY_CACHE]")
    assert rows["external-id key"].endswith("set (from environment XAI_STUDY_ID_KEY)  [environment XAI_STUDY_ID_KEY]")
    assert rows["processes (replicas)"].endswith("2  [command line]")


def test_check_reads_secrets_toml_in_the_working_directory(setup_study, capsys, monkeypatch, tmp_path):
    setup_study("verification")
    monkeypatch.delenv("XAI_STUDY_DB_URL")
    monkeypatch.delenv("XAI_STUDY_ID_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / ".streamlit").mkdir()
    (tmp_path / ".streamlit" / "secrets.toml").write_text(
        f'researcher_password = "{PASSWORD}"\nid_key = "{ID_KEY}"\ndb_url = "{UNREACHABLE_PG}"\n', encoding="utf-8")
    cli_main(["check"])
    captured = capsys.readouterr()
    out = captured.out + captured.err
    for secret in SECRETS:
        assert secret not in out
    rows = settings_lines(out)
    assert rows["researcher password"].endswith("set (from secrets.toml)  [secrets.toml]")
    assert rows["external-id key"].endswith("set (from secrets.toml)  [secrets.toml]")
    assert rows["database"].endswith("postgresql+psycopg://xai:***@127.0.0.1:1/nowhere  [secrets.toml]")
    assert rows["processes (replicas)"].endswith("1  [default]")


def page_text(at) -> str:
    """Everything the page shows: its text, its tables' cells, code blocks and exceptions."""
    tables = [t.value.reset_index().to_string() for t in at.table] + [str(d.value) for d in at.dataframe]
    return "\n".join([texts(at), *tables, *[c.value for c in at.code], *[str(e.value) for e in at.exception]])


def test_readiness_page_shows_the_settings_and_no_secret(setup_study, monkeypatch):
    setup_study("verification")
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    monkeypatch.setenv("XAI_STUDY_ID_KEY", ID_KEY)
    monkeypatch.setenv("XAI_STUDY_DB_URL", UNREACHABLE_PG)
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    at.switch_page("app_pages/researcher_readiness.py").run()
    shown = page_text(at)
    for secret in SECRETS:
        assert secret not in shown
    (table,) = [t.value for t in at.table if "source" in t.value.columns]
    rows = table.to_dict("index")
    assert list(rows) == NAMES
    assert rows["researcher password"] == {"value": "set (from environment XAI_STUDY_RESEARCHER_PASSWORD)",
                                           "source": "environment XAI_STUDY_RESEARCHER_PASSWORD"}
    assert rows["database"] == {"value": "postgresql+psycopg://xai:***@127.0.0.1:1/nowhere",
                                "source": "environment XAI_STUDY_DB_URL"}
    assert rows["external-id key"]["value"] == "set (from environment XAI_STUDY_ID_KEY)"
    assert "Not ready" in shown
