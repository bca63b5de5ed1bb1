"""Files holding participants' data are readable by their owner only (mode 0600), whatever the umask.

Every file the project writes with participants' data goes through here: the SQLite study database (created
by :func:`study_app.store.database.make_engine`; SQLite gives its ``-wal`` and ``-shm`` files the database
file's mode), backups and their manifests, the CSV exports and ``reliance.csv``. A file is created with the
mode already set (never world-readable for a moment), and an existing file keeps no wider mode.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import IO

OWNER_ONLY = 0o600


def create_private(path: str | Path) -> None:
    """Create ``path`` empty with mode 0600 if it does not exist; tighten its mode if it does."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)
    finally:
        os.close(fd)


def open_private(path: str | Path, mode: str = "w", **kwargs) -> IO:
    """``open(path, mode)`` for writing (``w``/``wb``: truncates), the file owner-only from its first byte."""
    if mode not in ("w", "wb"):
        raise ValueError(f"open_private writes only ('w' or 'wb'), not {mode!r}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, OWNER_ONLY)
    try:
        os.fchmod(fd, OWNER_ONLY)
        return os.fdopen(fd, mode, **kwargs)
    except BaseException:
        os.close(fd)
        raise


def write_private_text(path: str | Path, text: str) -> None:
    """Write ``text`` (UTF-8) to an owner-only file, atomically (a crash never leaves half of it)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    with open_private(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.replace(tmp, path)
