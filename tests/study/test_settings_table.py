"""One settings object (issue 23, item 3): every setting decided once, with its source, and a table that
never shows a secret's value. The app, ``xai-study check``, ``serve`` and the database commands all take
their values from :func:`study_app.settings.resolve`."""

from __future__ import annotations

from pathlib import Path

import pytest

from study_app.settings import Settings, SettingsError, resolve

NAMES = ["study file", "researcher password", "database", "attribution cache", "external-id key",
         "processes (replicas)", "warm start", "page timing log"]
PASSWORD = "correct-horse-battery-staple-42"  # noqa: S105 - a test value
ID_KEY = "id-key-that-must-never-show-9f3a"
DB_PASSWORD = "db-pass-never-shown-77"  # noqa: S105 - a test value


def sources(settings: Settings) -> dict[str, str]:
    table = settings.table()
    assert [row["setting"] for row in table] == NAMES  # every setting, in one order
    return {row["setting"]: row["source"] for row in table}


def shown(settings: Settings) -> str:
    return "\n".join([settings.format_table(), repr(settings), str(settings.table())])


@pytest.fixture
def study(tmp_path) -> Path:
    path = tmp_path / "studies" / "s.toml"
    path.parent.mkdir()
    path.write_text('[study]\nid = "s"\ncache = "maps"\n', encoding="utf-8")
    return path


def write_secrets(folder: Path, text: str) -> None:
    (folder / ".streamlit").mkdir(parents=True, exist_ok=True)
    (folder / ".streamlit" / "secrets.toml").write_text(text, encoding="utf-8")


def test_command_line_and_defaults(study, tmp_path):
    settings = resolve(study=study, db="sqlite:///chosen.sqlite", replicas=3, env={}, secrets={}, cwd=tmp_path)
    assert sources(settings) == {"study file": "command line", "researcher password": "default",
                                 "database": "command line", "attribution cache": "study file",
                                 "external-id key": "default", "processes (replicas)": "command line",
                                 "warm start": "default", "page timing log": "default"}
    assert settings.warm_start.value is True and settings.page_timing.value is False
    assert (settings.study_file, settings.db_url, settings.replicas.value) == (study, "sqlite:///chosen.sqlite", 3)
    assert settings.cache_dir == study.parent / "maps"  # [study] cache, relative to the study file
    assert settings.researcher_password is None and settings.engine_id_key() is None
    assert "the researcher area stays locked" in settings.password.shown


def test_the_environment(study, tmp_path):
    env = {"XAI_STUDY_FILE": str(study), "XAI_STUDY_RESEARCHER_PASSWORD": PASSWORD,
           "XAI_STUDY_DB_URL": f"postgresql+psycopg://xai:{DB_PASSWORD}@db.example/study",
           "XAI_STUDY_CACHE": str(tmp_path / "c"), "XAI_STUDY_ID_KEY": ID_KEY, "XAI_STUDY_REPLICAS": "4",
           "XAI_STUDY_COLD_START": "1", "XAI_STUDY_TIMING": "1"}
    settings = resolve(env=env, secrets={"study_file": "other.toml", "researcher_password": "x" * 20,
                                         "db_url": "sqlite:///other.sqlite", "id_key": "other"}, cwd=tmp_path)
    assert sources(settings) == {name: f"environment {var}" for name, var in zip(NAMES, [
        "XAI_STUDY_FILE", "XAI_STUDY_RESEARCHER_PASSWORD", "XAI_STUDY_DB_URL", "XAI_STUDY_CACHE", "XAI_STUDY_ID_KEY",
        "XAI_STUDY_REPLICAS", "XAI_STUDY_COLD_START", "XAI_STUDY_TIMING"], strict=True)}
    assert settings.warm_start.value is False and settings.page_timing.value is True
    assert settings.researcher_password == PASSWORD and settings.id_key.value == ID_KEY
    assert settings.cache_dir == tmp_path / "c" and settings.replicas.value == 4
    assert settings.engine_id_key().value == ID_KEY.encode() and settings.engine_id_key().source == "environment"
    table = shown(settings)
    assert PASSWORD not in table and ID_KEY not in table and DB_PASSWORD not in table
    assert "set (from environment XAI_STUDY_RESEARCHER_PASSWORD)" in table
    assert "postgresql+psycopg://xai:***@db.example/study" in table


def test_secrets_toml_in_the_working_directory_over_the_home_folder(study, tmp_path):
    home, here = tmp_path / "home", tmp_path / "here"
    write_secrets(home, f'db_url = "sqlite:///home.sqlite"\nid_key = "{ID_KEY}"\n')
    write_secrets(here, f'study_file = "{study}"\nresearcher_password = "{PASSWORD}"\n'
                        f'db_url = "postgresql+psycopg://u:{DB_PASSWORD}@h/d"\n')
    settings = resolve(env={}, cwd=here, home=home)
    assert sources(settings) == {"study file": "secrets.toml", "researcher password": "secrets.toml",
                                 "database": "secrets.toml", "attribution cache": "study file",
                                 "external-id key": "secrets.toml", "processes (replicas)": "default",
                                 "warm start": "default", "page timing log": "default"}
    assert settings.db_url == f"postgresql+psycopg://u:{DB_PASSWORD}@h/d"  # the working directory's wins
    assert settings.id_key.value == ID_KEY  # only in the home folder's: still read, as Streamlit does
    table = shown(settings)
    assert PASSWORD not in table and ID_KEY not in table and DB_PASSWORD not in table
    assert "set (from secrets.toml)" in table
    only_here = resolve(env={}, secrets_file=here / ".streamlit" / "secrets.toml")  # check --secrets FILE
    assert only_here.id_key.value is None and only_here.study_file == study


def test_nothing_configured_runs_the_bundled_demo_beside_its_database(tmp_path):
    settings = resolve(env={}, secrets={}, cwd=tmp_path)
    assert settings.is_bundled_demo
    assert settings.db_url == f"sqlite:///{settings.study_file.resolve().parent / 'responses.sqlite'}"
    assert sources(settings)["database"] == "default: beside the study file"
    assert "one-time password in the server log" in settings.password.shown


def test_database_in_the_database_is_shown_as_such(study):
    settings = resolve(study=study, env={"XAI_STUDY_ID_KEY": "database"}, secrets={})
    assert settings.id_key_in_database and settings.id_key.shown.startswith("database")
    assert settings.engine_id_key().in_database


def test_an_unreadable_secrets_file_is_one_clear_error(tmp_path):
    write_secrets(tmp_path, "db_url = \n")
    with pytest.raises(SettingsError, match=r"secrets.toml: not valid TOML"):
        resolve(env={}, cwd=tmp_path, home=tmp_path / "home")
    write_secrets(tmp_path, "db_url = 3\n")
    with pytest.raises(SettingsError, match="db_url must be a non-empty string"):
        resolve(env={}, cwd=tmp_path, home=tmp_path / "home")
