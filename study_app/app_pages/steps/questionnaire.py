"""Pre- and post-questionnaires: every item in one form, submitted only when complete."""

from __future__ import annotations

import streamlit as st

from study_app.study.steps import PRE_QUESTIONNAIRE
from study_app.ui.question_widgets import ask_questions, clean_answers, missing_answers
from study_app.ui.state_keys import widget_key

TITLES = {PRE_QUESTIONNAIRE: "A few questions about you"}


def render(step) -> dict | None:
    st.header(TITLES.get(step.kind, "Your overall impressions"))
    with st.form(f"form:{step.step_id}"):
        answers = ask_questions(step.questions, scope=step.step_id)
        submitted = st.form_submit_button("Continue", type="primary", key=widget_key(step.step_id, "submit"))
    if not submitted:
        return None
    missing = missing_answers(step.questions, answers)
    if missing:
        st.warning("Please answer: " + "; ".join(missing), icon=":material/edit_note:")
        return None
    return clean_answers(step.questions, answers)
