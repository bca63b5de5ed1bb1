"""On-disk attribution cache shared by precompute, the study engine and the app.

An entry is keyed by (checkpoint weights sha256, image content sha256, method, map-determining
parameters incl. target and seed), so a retrained model, an edited image or a changed parameter can
never be served a stale map. Each entry is one ``.npz`` file (``allow_pickle=False``: nothing in the
cache can execute code) holding the map and a JSON record (prediction, metadata, faithfulness).

Writes go to a temporary file in the same folder and are moved into place with :func:`os.replace`,
which is atomic, so two processes filling the cache at once can only race to write identical content,
never leave a half-written file. A damaged entry (truncated, not a zip, wrong map hash) is reported as
a miss and overwritten by the next :meth:`AttributionCache.put`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from trainers.checkpoint import file_sha256

log = logging.getLogger(__name__)

CACHE_ENV = "XAI_STUDY_CACHE"
DEFAULT_CACHE_DIRNAME = ".xai_cache"
FORMAT_VERSION = 1


def resolve_cache_dir(preferred: str | Path | None = None) -> Path:
    """The one rule for the attribution cache folder: ``$XAI_STUDY_CACHE`` if set, else ``preferred`` (a
    study file's ``cache`` folder, already resolved against the file), else ``.xai_cache/`` under the
    current directory. Callers decide once and pass the folder on; nothing sets the variable."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env)
    return Path(preferred) if preferred else Path.cwd() / DEFAULT_CACHE_DIRNAME


def cache_root(cache_dir: str | Path | None) -> Path:
    """The folder a caller passed (already decided by :func:`resolve_cache_dir`), else the default: where the
    kinds that live beside the maps (example pools, panels, concepts) keep their sub-folders."""
    return Path(cache_dir) if cache_dir is not None else default_cache_dir()


def default_cache_dir() -> Path:
    """The folder without a study: ``$XAI_STUDY_CACHE`` if set, else ``.xai_cache/`` here."""
    return resolve_cache_dir(None)


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def file_content_sha256(path: str | Path) -> str:
    """Hash of a file's bytes (the image identity used in keys: renaming a file keeps its maps)."""
    return file_sha256(path)


def map_sha256(map_hw: np.ndarray) -> str:
    """Fingerprint of a map's exact float32 values and shape, exported with responses for provenance."""
    arr = np.ascontiguousarray(np.asarray(map_hw, dtype=np.float32))
    return sha256_bytes(arr.tobytes() + repr(arr.shape).encode())


def cache_key(checkpoint_sha256: str, image_sha256: str, method: str, params: dict[str, Any]) -> str:
    """Deterministic key: canonical JSON (sorted keys) of the four parts, hashed."""
    payload = json.dumps(
        {
            "v": FORMAT_VERSION,
            "checkpoint": checkpoint_sha256,
            "image": image_sha256,
            "method": method,
            "params": params,
        },
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return sha256_bytes(payload.encode())


@dataclass
class CacheEntry:
    """What the cache stores for one key: the map and a JSON-safe record."""

    map_hw: np.ndarray
    record: dict[str, Any]


class AttributionCache:
    """A folder of entries ``<root>/<key[:2]>/<key>.npz``; safe for concurrent processes."""

    def __init__(self, root: str | Path | None = None):
        self.root = Path(root) if root is not None else default_cache_dir()

    def path_for(self, key: str) -> Path:
        if len(key) < 3 or not all(c in "0123456789abcdef" for c in key):
            raise ValueError(f"not a cache key: {key!r}")
        return self.root / key[:2] / f"{key}.npz"

    def get(self, key: str) -> CacheEntry | None:
        """The entry, or None when absent or damaged (a damaged file is logged and left to be replaced)."""
        path = self.path_for(key)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                map_hw = np.asarray(data["map"], dtype=np.float32)
                record = json.loads(bytes(data["record"]).decode("utf-8"))
            if not isinstance(record, dict) or record.get("key") != key:
                raise ValueError("record does not belong to this key")
            if record.get("map_sha256") != map_sha256(map_hw):
                raise ValueError("map does not match its recorded hash")
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError) as exc:
            log.warning("damaged cache entry %s (%s); it will be recomputed", path, exc)
            return None
        return CacheEntry(map_hw=map_hw, record=record)

    def put(self, key: str, map_hw: np.ndarray, record: dict[str, Any]) -> Path:
        """Write an entry atomically (temporary file + ``os.replace``); returns its path."""
        map_hw = np.ascontiguousarray(np.asarray(map_hw, dtype=np.float32))
        record = {**record, "key": key, "map_sha256": map_sha256(map_hw)}
        blob = json.dumps(record, sort_keys=True, default=_json_default).encode("utf-8")
        buf = io.BytesIO()
        np.savez(buf, map=map_hw, record=np.frombuffer(blob, dtype=np.uint8))
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:12]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(buf.getvalue())
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return path

    def record(self, key: str) -> dict[str, Any] | None:
        """An entry's JSON record only (its map neither read nor checked: for surveying a large cache), or
        None when absent or unreadable. Serving goes through :meth:`get`, which checks the map."""
        try:
            with np.load(self.path_for(key), allow_pickle=False) as data:
                record = json.loads(bytes(data["record"]).decode("utf-8"))
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, UnicodeDecodeError):
            return None
        return record if isinstance(record, dict) and record.get("key") == key else None

    def keys(self) -> list[str]:
        """Keys of the entries on disk (damaged ones included)."""
        return sorted(p.stem for p in self.root.glob("??/*.npz")) if self.root.is_dir() else []

    def remove(self, key: str) -> bool:
        """Delete one entry; False if it was not there."""
        path = self.path_for(key)
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def __contains__(self, key: str) -> bool:
        return self.get(key) is not None

    def __len__(self) -> int:
        return sum(1 for _ in self.root.glob("??/*.npz")) if self.root.is_dir() else 0


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (set, tuple)):
        return list(obj)
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
