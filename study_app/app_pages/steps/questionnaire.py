"""Pre- and post-questionnaires, and the per-arm one after each arm's block of trials: every item in one form,
submitted only when complete."""

from __future__ import annotations

import streamlit as st

from study_app.i18n import N_
from study_app.study.steps import ARM_QUESTIONNAIRE, HIVE_AFTER, HIVE_BEFORE, HIVE_REVEAL, PRE_QUESTIONNAIRE
from study_app.ui.browser import page_signals
from study_app.ui.language import _
from study_app.ui.question_widgets import ask_questions, clean_answers, missing_answers, submitted_answers
from study_app.ui.state_keys import widget_key
from study_app.ui.trial_forms import signals_key

TITLES = {PRE_QUESTIONNAIRE: N_("A few questions about you"),
          # no arm named: a blinded study must not learn its arms' names here
          ARM_QUESTIONNAIRE: N_("Your impressions of the part you just completed"),
          HIVE_BEFORE: N_("Before you start"), HIVE_AFTER: N_("After the task"), HIVE_REVEAL: N_("Your performance")}
OTHER_TITLE = N_("Your overall impressions")


def render(step, submission) -> None:
    st.header(_(TITLES.get(step.kind, OTHER_TITLE)))
    if step.text:  # the HIVE reveal: the participant's own accuracy, written by the engine
        st.markdown(step.text)

    def collect():
        answers = submitted_answers(step.questions, scope=step.step_id)
        missing = missing_answers(step.questions, answers)
        return (None, missing) if missing else (clean_answers(step.questions, answers), [])

    with st.form(f"form:{step.step_id}"):
        page_signals(signals_key(step.step_id))  # the bot and LLM-agent signals (study_app.study.bot_signals)
        ask_questions(step.questions, scope=step.step_id)
        submission.button(_("Continue"), collect, key=widget_key(step.step_id, "submit"))
