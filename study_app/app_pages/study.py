"""The participant page: whatever step the engine says comes next, from consent to the completion code."""

from study_app.app_pages.participant_flow import run_participant_flow

run_participant_flow()
