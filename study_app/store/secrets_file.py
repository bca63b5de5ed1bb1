"""The one place that reads (and appends to) ``.streamlit/secrets.toml``.

Streamlit reads ``~/.streamlit/secrets.toml`` and then ``.streamlit/secrets.toml`` in the working directory,
the second winning key by key; :func:`read_secrets` does the same, so the app, ``xai-study check``,
``serve`` and every command see the same values. What each value decides (study file, researcher
password, database, external-id key) is :func:`study_app.settings.resolve`'s business, not this module's.
``tests/test_architecture.py`` checks that no other module names the file or reads ``st.secrets``.
"""

from __future__ import annotations

import fcntl
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

SECRETS_FILE = Path(".streamlit") / "secrets.toml"  # relative to the working directory (also in ~)


class SecretsFileError(ValueError):
    """A secrets file exists but cannot be read as TOML; the message names it."""


def read_secrets_file(path: str | Path = SECRETS_FILE) -> dict:
    """One secrets file as a dict (empty when absent)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return {}
    except (OSError, UnicodeDecodeError) as exc:
        raise SecretsFileError(f"{path}: cannot read it ({exc})") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SecretsFileError(f"{path}: not valid TOML ({exc})") from exc


def secrets_paths(cwd: str | Path | None = None, home: str | Path | None = None) -> list[Path]:
    """Where the secrets are read from, lowest precedence first: the home folder's, then the working
    directory's (as Streamlit reads them)."""
    home_dir = Path(home) if home is not None else Path.home()
    here = Path(cwd) if cwd is not None else Path.cwd()
    return list(dict.fromkeys([home_dir / SECRETS_FILE, here / SECRETS_FILE]))


def read_secrets(cwd: str | Path | None = None, home: str | Path | None = None) -> dict:
    """The secrets of ``~/.streamlit/secrets.toml`` overlaid by those of ``<cwd>/.streamlit/secrets.toml``."""
    merged: dict = {}
    for path in secrets_paths(cwd, home):
        merged.update(read_secrets_file(path))
    return merged


def add_secret_once(path: str | Path, key: str, make: Callable[[], str], comment: str) -> tuple[str, bool]:
    """``key``'s value in ``path``, appending ``make()`` (with ``comment`` above it) when it is absent;
    returns ``(value, created)``. The file is created owner-only (0600); a lock file serialises servers
    starting together, so they all end with one value."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path.parent / ".xai_study_secrets.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        existing = read_secrets_file(path).get(key)
        if existing is not None:
            return existing, False
        value = make()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as fh:
            if fh.tell() > 0:
                fh.write("\n")
            fh.write(f'{comment}{key} = "{value}"\n')
        return value, True
