"""The Prolific-id key lives outside the database: environment, secrets.toml, or created there once."""

from __future__ import annotations

import logging
import os
import stat
import threading
import tomllib

import pytest

from study_app.study.id_key import ID_KEY_ENV, IdKeyError, create_key_in, resolve_id_key
from study_app.study.screening import pilot_key


def test_environment_then_secrets(tmp_path):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('id_key = "from-secrets"\n', encoding="utf-8")
    assert resolve_id_key(needed=True, env={ID_KEY_ENV: "from-env"}, secrets_path=secrets).value == b"from-env"
    key = resolve_id_key(needed=True, env={}, secrets_path=secrets)
    assert (key.value, key.source) == (b"from-secrets", "secrets")
    passed = resolve_id_key(needed=True, env={}, secrets={"id_key": "st.secrets"}, secrets_path=secrets)
    assert passed.value == b"st.secrets"  # what the app read through Streamlit wins over re-reading
    assert resolve_id_key(needed=True, env={ID_KEY_ENV: "database"}, secrets_path=secrets).in_database


def test_created_once_in_secrets_toml_with_one_log_line(tmp_path, caplog):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    secrets.parent.mkdir()
    secrets.write_text('researcher_password = "kept"\n', encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="study_app.id_key"):
        first = resolve_id_key(needed=True, env={}, secrets_path=secrets)
        second = resolve_id_key(needed=True, env={}, secrets_path=secrets)
    assert first.source == "created" and second.source == "secrets" and first.value == second.value
    assert len(first.value) == 64
    data = tomllib.loads(secrets.read_text(encoding="utf-8"))
    assert data == {"researcher_password": "kept", "id_key": first.value.decode()}
    lines = [r.getMessage() for r in caplog.records if "external-id key" in r.getMessage()]
    assert len(lines) == 1 and str(secrets.resolve()) in lines[0]


def test_a_new_secrets_file_is_private_and_servers_starting_together_agree(tmp_path):
    secrets = tmp_path / ".streamlit" / "secrets.toml"
    keys = []
    threads = [threading.Thread(target=lambda: keys.append(create_key_in(secrets))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1
    assert stat.S_IMODE(os.stat(secrets).st_mode) == 0o600
    assert secrets.read_text(encoding="utf-8").count("id_key =") == 1


def test_refused_with_a_clear_message_when_it_cannot_be_created(tmp_path):
    if os.geteuid() == 0:
        blocked = tmp_path / "not-a-folder"
        blocked.write_text("", encoding="utf-8")  # root ignores permissions; a file where a folder must be
        path = blocked / "secrets.toml"
    else:
        folder = tmp_path / "ro"
        folder.mkdir(mode=0o500)
        path = folder / ".streamlit" / "secrets.toml"
    with pytest.raises(IdKeyError, match=f"{ID_KEY_ENV}.*id_key"):
        resolve_id_key(needed=True, env={}, secrets_path=path)
    with pytest.raises(IdKeyError, match="not allowed"):
        resolve_id_key(needed=True, env={}, secrets={}, secrets_path=None)


def test_a_study_keeping_ids_verbatim_still_gets_a_stable_key_for_its_pilot_link(tmp_path):
    """The pilot link's key derives from the id key: a random key per process gave every replica (and every
    restart) a different pilot link. Where no key can be created, the study still runs, per process."""
    path = tmp_path / ".streamlit" / "secrets.toml"
    first = resolve_id_key(needed=False, env={}, secrets_path=path)
    again = resolve_id_key(needed=False, env={}, secrets_path=path)  # another process, or after a restart
    assert first.source == "created" and path.exists() and again.value == first.value
    assert pilot_key(first.value, "study") == pilot_key(again.value, "study")
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("", encoding="utf-8")  # a file where the folder must be: nothing can be created there
    assert resolve_id_key(needed=False, env={}, secrets_path=blocked / "secrets.toml").source == "unused"
    assert resolve_id_key(needed=False, env={}, secrets_path=None).source == "unused"


def test_the_engine_creates_the_key_in_the_working_directory(make_study, make_engine_for, sqlite_repo,
                                                             tmp_path, monkeypatch):
    monkeypatch.delenv(ID_KEY_ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    engine = make_engine_for(make_study("verification", trials=2), sqlite_repo)
    assert engine.id_key_source == "created"
    stored = tomllib.loads((tmp_path / ".streamlit" / "secrets.toml").read_text(encoding="utf-8"))["id_key"]
    import hashlib
    import hmac

    assert engine.hash_external_id("P") == hmac.new(stored.encode(), b"P", hashlib.sha256).hexdigest()
    assert all(s.id_key is None for s in sqlite_repo.studies())
