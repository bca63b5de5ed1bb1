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
SUBMISSION_HANDLED = "submission_handled"  # the key of the button whose callback ran in this script run

# the participant page (app_pages.participant_flow)
ENDED = "participant_ended"  # "declined" / "withdrawn": shown until the participant starts again
SUBMITTED = "answer_submitted"  # set by a submit callback: this run follows a stored answer (for timing)
# (token, step) the submit callback got back from the engine: the run that follows draws it without reading
# the participant again (the engine built it from the record it had just advanced, in the same click).
NEXT_STEP = "next_step"
WITHDRAWING = "withdrawal_dialog_open"  # the withdrawal dialog is open (until withdrawn or dismissed)

# the researcher's pages
RESEARCHER_EXPORT = "researcher_export"  # the prepared CSV export (app_pages.researcher_data)
# The preview's step picker: one key for the picker's whole life (a key that changed with the step made
# Streamlit draw a new widget on the run after a pick, which dropped every second choice).
PREVIEW_STEP = "preview_step_picker"
PREVIEW_SUBMITTED = "preview_submitted"  # the preview's last answer was accepted (not stored): say so once
PROLIFIC_DRY_RUN = "prolific_dry_run"  # (action, planned) of the Prolific section's last dry run (ui.prolific_panel)
PROLIFIC_REPORT = "prolific_last_report"  # (action, lines) of its last run


def widget_key(scope: str, name: str, item: object = "") -> str:
    """A widget key unique per step and item, so a new trial never inherits the last trial's answer."""
    return f"w:{scope}:{item}:{name}"
