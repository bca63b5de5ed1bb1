"""Every ``st.session_state`` key and URL query parameter the app uses, in one place.

Session state holds the participant token and transient widget state only; progress lives in the
database, so a reload (which starts a fresh Streamlit session) resumes from the token in the URL.
"""

from __future__ import annotations

# URL query parameters
TOKEN_PARAM = "p"  # noqa: S105 - pseudonymous participant token: a reload resumes from it
PROLIFIC_PARAMS = ("PROLIFIC_PID", "STUDY_ID", "SESSION_ID")

# session_state keys
RESEARCHER_OK = "researcher_authenticated"
PARTICIPANT_TOKEN = "participant_token"  # noqa: S105 - a key name
FLASH = "flash_message"  # one-shot notice shown on the next run (e.g. "answer saved")
LANGUAGE = "participant_language"  # the study's language for this session's participant text (ui.language)


def widget_key(scope: str, name: str, item: object = "") -> str:
    """A widget key unique per step and item, so a new trial never inherits the last trial's answer."""
    return f"w:{scope}:{item}:{name}"
