"""Pre- and post-questionnaires: every item in one form, submitted only when complete."""

from __future__ import annotations

import streamlit as st

from study_app.i18n import N_
from study_app.study.steps import PRE_QUESTIONNAIRE
from study_app.ui.language import _
from study_app.ui.question_widgets import ask_questions, clean_answers, missing_answers, submitted_answers
from study_app.ui.state_keys import widget_key

TITLES = {PRE_QUESTIONNAIRE: N_("A few questions about you")}
OTHER_TITLE = N_("Your overall impressions")


def render(step, submission) -> None:
    st.header(_(TITLES.get(step.kind, OTHER_TITLE)))

    def collect():
        answers = submitted_answers(step.questions, scope=step.step_id)
        missing = missing_answers(step.questions, answers)
        return (None, missing) if missing else (clean_answers(step.questions, answers), [])

    with st.form(f"form:{step.step_id}"):
        ask_questions(step.questions, scope=step.step_id)
        submission.button(_("Continue"), collect, key=widget_key(step.step_id, "submit"))
