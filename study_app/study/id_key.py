"""Where the key that hides Prolific ids lives: outside the study database.

Unless a study keeps external ids verbatim, Prolific ids are stored as HMAC-SHA256 under a secret key. A
key kept in the same database would protect nothing against whoever holds a copy of it: they could hash a
known Prolific id and find that person's answers. So the key comes, in this order, from

1. env ``XAI_STUDY_ID_KEY``;
2. ``id_key`` in ``.streamlit/secrets.toml`` (working directory, as Streamlit reads it);
3. created on first run into that ``secrets.toml`` (git-ignored), with one log line saying so. Back it up
   apart from the database: without it a returning participant's Prolific id cannot be matched.

A study that needs a key and can get none (read-only folder, say) is refused with a message naming both
places. The value ``database`` (env or secrets) keeps the key in the study database as releases before
schema revision 0002 did; a study begun then needs it, or its key copied out (the refusal says how).
"""

from __future__ import annotations

import logging
import os
import secrets as _random
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from study_app.store.secrets_file import SECRETS_FILE, SecretsFileError, add_secret_once, read_secrets_file

ID_KEY_ENV = "XAI_STUDY_ID_KEY"
SECRET_ID_KEY = "id_key"  # noqa: S105 - a key name
IN_DATABASE = "database"

log = logging.getLogger("study_app.id_key")


class IdKeyError(RuntimeError):
    """No usable external-id key; the message says where to put one."""


@dataclass(frozen=True)
class IdKey:
    """``value`` is ``None`` exactly when ``source == "database"`` (the study row's key is used)."""

    value: bytes | None
    source: str  # argument | environment | secrets | created | database | unused

    @property
    def in_database(self) -> bool:
        return self.source == IN_DATABASE


def key_from_text(text: str, source: str) -> IdKey:
    """The key a configured text stands for (``database``: the study row's key)."""
    if text.strip().lower() == IN_DATABASE:
        return IdKey(None, IN_DATABASE)
    return IdKey(text.encode("utf-8"), source)


def _checked(value, path: Path) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise IdKeyError(f"{path}: {SECRET_ID_KEY} must be a non-empty string")
    return value


def _read_secret(path: Path) -> str | None:
    try:
        return _checked(read_secrets_file(path).get(SECRET_ID_KEY), path)
    except SecretsFileError as exc:
        raise IdKeyError(f"cannot read it for {SECRET_ID_KEY}: {exc}") from exc


def create_key_in(path: Path) -> str:
    """Append a new ``id_key`` to ``path`` (created 0600 if absent) unless another process just did; returns
    the key in the file (:func:`study_app.store.secrets_file.add_secret_once`)."""
    return _create_key_in(path)[0]


def _create_key_in(path: Path) -> tuple[str, bool]:
    comment = ("# Key that hides Prolific ids in the study database (xai-study). Back it up, keep it secret,\n"
               "# and never change it while a study runs: returning participants are matched with it.\n")
    try:
        value, created = add_secret_once(path, SECRET_ID_KEY, lambda: _random.token_hex(32), comment)
    except SecretsFileError as exc:
        raise IdKeyError(f"cannot read it for {SECRET_ID_KEY}: {exc}") from exc
    value = _checked(value, path)
    if created:
        log.warning("created the external-id key (%s) in %s: back it up apart from the database",
                    SECRET_ID_KEY, path.resolve())
    return value, created


def resolve_id_key(*, needed: bool, env: Mapping[str, str] | None = None,
                   secrets: Mapping | None = None, secrets_path: Path | None = SECRETS_FILE) -> IdKey:
    """The key by the precedence in the module docstring.

    Args:
        needed: The study hashes external ids (``keep_external_ids = false``). Otherwise only the pilot
            link's key derives from it: one is still created where none is configured (so every server
            process and restart gives the same pilot link), and where that fails a random key for this
            process only is returned, with a warning, instead of an error.
        secrets: Already-read secrets (the app: ``{}`` when its settings found no key); ``secrets_path`` is still where a
            new key is written. ``None`` reads ``secrets_path``.
        secrets_path: ``None`` forbids creating a key (and reading one from a file).

    Raises:
        IdKeyError: needed, none configured, and none could be created.
    """
    env = os.environ if env is None else env
    if env.get(ID_KEY_ENV, "").strip():
        return key_from_text(env[ID_KEY_ENV], "environment")
    value = (secrets or {}).get(SECRET_ID_KEY)
    if value is None and secrets is None and secrets_path is not None:
        value = _read_secret(secrets_path)
    if isinstance(value, str) and value.strip():
        return key_from_text(value, "secrets")
    if not needed and secrets_path is None:
        return IdKey(_random.token_bytes(32), "unused")
    if secrets_path is None:
        raise IdKeyError(_missing_message("creating one is not allowed here"))
    try:
        value, created = _create_key_in(Path(secrets_path))
        return IdKey(value.encode("utf-8"), "created" if created else "secrets")
    except OSError as exc:
        if not needed:  # only the pilot link's key depends on it then: it works, but per process
            log.warning("no external-id key and none could be created (%s): the pilot link works only with this "
                        "server process until it restarts; set %s to make it stable", exc.strerror or exc,
                        ID_KEY_ENV)
            return IdKey(_random.token_bytes(32), "unused")
        raise IdKeyError(_missing_message(f"could not create {secrets_path}: {exc.strerror or exc}")) from exc


def _missing_message(reason: str) -> str:
    return (f"This study stores Prolific ids only as keyed hashes (keep_external_ids = false), and no key is "
            f"configured ({reason}). Set the environment variable {ID_KEY_ENV} or '{SECRET_ID_KEY}' in "
            f"{SECRETS_FILE} to a long random string, and keep it with your backups.")


def database_key_message(slug: str) -> str:
    """Why a study begun before revision 0002 is refused with an outside key, and the two ways on."""
    return (f"Study {slug!r} began before xai-study kept the Prolific-id key outside the database: its "
            f"participants' ids were hashed with a key stored in the database, and a different key would not "
            f"recognise them when they return. Either keep using that key (set {ID_KEY_ENV}=database or "
            f"{SECRET_ID_KEY} = \"database\" in {SECRETS_FILE}), or move it out: copy the studies.id_key value "
            f"of this study into {ID_KEY_ENV} / {SECRET_ID_KEY}, then set studies.id_key to NULL.")
