"""How the export writes a CSV: every cell in one text form, formula cells neutralised, files written atomically
and owner-only (like every file with participants' data)."""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise_cell(value):
    """A cell a spreadsheet cannot run as a formula, everything else unchanged.

    Text starting with ``= + - @``, tab or carriage return gets a leading apostrophe (the OWASP CSV
    injection advice); numbers stay numbers, so a negative probability would not be touched (there are
    none) and numeric answers keep their type.
    """
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def _cell(value):
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.UTC).isoformat(timespec="milliseconds")
    if isinstance(value, (dict, list, tuple)):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return neutralise_cell(value)


def write_csv(path: str | Path, rows: Iterable[Mapping], columns: list[str]) -> int:
    """Write UTF-8 CSV atomically (a crash never leaves half a file), owner-only (``mkstemp``: 0600);
    returns the row count."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    n = 0
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns)
            writer.writeheader()
            for row in rows:
                writer.writerow({c: _cell(row.get(c)) for c in columns})
                n += 1
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return n


def with_extra_columns(fixed: list[str], rows: list[dict]) -> list[str]:
    """``fixed`` then, sorted, every other key the rows hold (answers, per-protocol and per-metric columns)."""
    extra = sorted({k for row in rows for k in row} - set(fixed))
    return fixed + extra
