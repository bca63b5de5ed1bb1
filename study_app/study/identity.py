"""Who a visitor is: resume tokens, the external ids a visitor brought before consenting, a returning Prolific
participant recognised by their id, and the keyed hash under which external ids are stored.

The engine asks :class:`Identities` which participant a token (and a URL's Prolific ids) belongs to, and
what to store of those ids at enrolment; it decides nothing about identity itself. External ids a visitor
brought are kept in memory only until they consent (nothing is written before consent), at most
:data:`MAX_PENDING` of them, oldest dropped first.
"""

from __future__ import annotations

import dataclasses
import hmac
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from secrets import token_urlsafe

from study_app.store.records import ParticipantRecord, StudyRecord, token_sha256
from study_app.store.repository import Repository
from study_app.study.errors import UnknownParticipantError
from study_app.study.id_key import IdKey, IdKeyError, database_key_message, resolve_id_key
from study_app.study.schema import Study
from study_app.study.screening import pilot_key
from study_app.study.views import ExternalIds

TOKEN_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_PENDING = 100_000


def new_token() -> str:
    """A fresh resume token (random, URL-safe, matches :data:`TOKEN_PATTERN`)."""
    return token_urlsafe(24)


def resolve_study_key(study: Study, repository: Repository, id_key: bytes | str | IdKey | None,
                      secrets: Mapping | None) -> IdKey:
    """The key external ids are hashed with: ``id_key`` as given (bytes, text or resolved), else
    :func:`~study_app.study.id_key.resolve_id_key`.

    Raises:
        IdKeyError: the study hashes external ids and no key can be had, or its earlier participants were
            hashed with a database key that this configuration would not use.
    """
    needed = not study.keep_external_ids
    if isinstance(id_key, IdKey):
        key = id_key
    elif id_key is None:
        key = resolve_id_key(needed=needed, secrets=secrets)
    else:
        key = IdKey(id_key.encode() if isinstance(id_key, str) else bytes(id_key), "argument")
    if needed and not key.in_database and any(r.id_key for r in repository.studies(study.id)):
        raise IdKeyError(database_key_message(study.id))
    return key


class Identities:
    """Tokens and external ids of one study version's participants; thread-safe.

    Args:
        study, repository: The engine's.
        record: The stored study version (its ``id_key`` is the key when ``key`` says ``database``).
        key: From :func:`resolve_study_key`.
    """

    def __init__(self, study: Study, repository: Repository, record: StudyRecord, key: IdKey):
        self.study = study
        self.repository = repository
        self.record = record
        self.key_source = key.source
        self._key = record.id_key.encode("utf-8") if key.in_database else key.value
        self._lock = threading.Lock()
        self._pending: OrderedDict[str, ExternalIds] = OrderedDict()

    # ---- the key -------------------------------------------------------------------------------------

    def hash_external_id(self, value: str) -> str:
        """HMAC-SHA256 of an external id with the study's key (what is stored unless the study keeps ids)."""
        return hmac.new(self._key, value.encode("utf-8"), "sha256").hexdigest()

    @property
    def pilot_key(self) -> str:
        """The key the pilot link carries (``?pilot=KEY``), derived from the study's id key."""
        return pilot_key(self._key, self.study.id)

    @property
    def simulate_key(self) -> str:
        """The key ``xai-study simulate --browser``'s link carries (``?simulate=KEY``): its participants are
        stored synthetic."""
        return pilot_key(self._key, self.study.id, "simulate")

    def stored_ids(self, ids: Mapping[str, str]) -> dict[str, str]:
        """External ids as the participants table stores them: verbatim, or hashed (the study's choice)."""
        return dict(ids) if self.study.keep_external_ids else {k: self.hash_external_id(v) for k, v in ids.items()}

    # ---- tokens --------------------------------------------------------------------------------------

    def participant(self, token: str) -> ParticipantRecord | None:
        """The consented participant holding ``token``; ``None`` before consent.

        Raises:
            UnknownParticipantError: the token is malformed or belongs to another study.
        """
        if not isinstance(token, str) or not TOKEN_PATTERN.match(token):
            raise UnknownParticipantError("malformed participant token")
        participant = self.repository.participant_by_token(token)
        if participant is not None and participant.study_id != self.record.id:
            raise UnknownParticipantError("this token belongs to another study or study version")
        return participant

    def resolve(self, token: str | None, ids: ExternalIds) -> tuple[str, ParticipantRecord | None]:
        """The visitor's token (the given one if usable, the one now linked to their Prolific id, or a new one)
        and, once they consented, their record. Writes only to adopt a returning Prolific participant."""
        if token and TOKEN_PATTERN.match(token):
            participant = self.repository.participant_by_token(token)
            if participant is not None and participant.study_id == self.record.id:
                return token, participant
            if participant is None:
                if not ids:
                    return token, None
                # A Prolific id already enrolled wins over an unused browser token: that token becomes
                # theirs (only token hashes are stored, so the old token cannot be handed back).
                existing = self._by_prolific_pid(ids)
                if existing is not None:
                    return self._adopt(existing, token)
                self._remember_pending(token, ids)
                return token, None
        existing = self._by_prolific_pid(ids)
        if existing is not None:
            return self._adopt(existing, new_token())
        token = new_token()
        self._remember_pending(token, ids)
        return token, None

    def _by_prolific_pid(self, ids: ExternalIds) -> ParticipantRecord | None:
        if not ids.has_prolific_pid:
            return None
        return self.repository.participant_by_prolific_pid(self.record.id, self.stored_ids(ids.ids)["prolific_pid"])

    def _adopt(self, participant: ParticipantRecord, token: str) -> tuple[str, ParticipantRecord]:
        """Give a participant recognised by their Prolific id a new resume token (a write, only then)."""
        if not self.repository.adopt_token(participant.id, token):
            token = new_token()  # the browser's token was taken: practically never
            self.repository.adopt_token(participant.id, token)
        return token, dataclasses.replace(participant, token_sha256=token_sha256(token))

    # ---- external ids held until consent -------------------------------------------------------------

    def pending(self, token: str) -> ExternalIds:
        """The external ids the visitor with ``token`` brought (read, not popped: two tabs may consent at
        once, and whichever wins must carry them)."""
        with self._lock:
            return self._pending.get(token, ExternalIds())

    def forget(self, token: str) -> None:
        """Drop the visitor's pending ids (they enrolled, declined or withdrew)."""
        with self._lock:
            self._pending.pop(token, None)

    def _remember_pending(self, token: str, ids: ExternalIds) -> None:
        with self._lock:
            if ids or token not in self._pending:
                self._pending[token] = ids
            self._pending.move_to_end(token)
            while len(self._pending) > MAX_PENDING:
                self._pending.popitem(last=False)
