"""The repository's two append-only logs: study events and the researcher audit log.

Neither is ever updated; the one deletion in the events is a withdrawal erasing the participant's own
events (see ``Repository.withdraw``), and nothing deletes from the audit log.
"""

from __future__ import annotations

import datetime as dt
import getpass

from sqlalchemy.orm import sessionmaker

from study_app.store.records import canonical_json
from study_app.store.schema import EventRow, ResearcherLogRow


def cli_actor() -> str:
    """Who ran a command line tool, for the audit log (the OS user; there are no researcher accounts)."""
    try:
        return f"cli ({getpass.getuser()})"
    except (KeyError, OSError):  # no passwd entry in some containers
        return "cli"


class LogWrites:
    _sessions: sessionmaker

    def log_event(self, study_id: int, kind: str, detail: dict, now: dt.datetime,
                  participant_id: int | None = None, sha256: str | None = None) -> None:
        with self._sessions.begin() as session:
            session.add(EventRow(study_id=study_id, participant_id=participant_id, kind=kind, at=now,
                                 detail_json=canonical_json(detail), sha256=sha256))

    def log_researcher_action(self, action: str, outcome: str, now: dt.datetime, *, actor: str,
                              study_slug: str | None = None, detail: dict | None = None) -> None:
        """Append to the researcher audit log (logins go through :mod:`study_app.store.login_throttle`)."""
        with self._sessions.begin() as session:
            session.add(ResearcherLogRow(at=now, action=action, outcome=outcome, actor=actor[:64],
                                         study_slug=study_slug, detail_json=canonical_json(detail or {})))
