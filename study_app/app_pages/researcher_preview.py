"""Preview: the study exactly as a participant of a chosen condition sees it, any step at once, nothing stored.

The plan is drawn in memory (:mod:`study_app.study.preview`) and each step is drawn by the participant
pages' own code; a submit checks nothing into the database and moves the preview to the next step. To try
the real flow with stored (flagged) answers, use the pilot link on the Progress page.
"""

import streamlit as st

from study_app.app_pages.participant_flow import draw_step, show_progress
from study_app.app_pages.steps import done
from study_app.study.preview import preview_plan, stage_labels
from study_app.ui.language import use_language
from study_app.ui.researcher_frame import researcher_page
from study_app.ui.state_keys import PREVIEW_STEP, PREVIEW_SUBMITTED
from study_app.ui.submission import Submission, show_notice

NOT_STORED = "Preview: the last answer was accepted by the form but not stored. This is the next step."


def _next(stages: int, answer: dict) -> None:
    """The submit callback: store nothing, move the preview on (the picker with it), say so on the next step."""
    st.session_state[PREVIEW_STEP] = min(st.session_state.get(PREVIEW_STEP, 0) + 1, stages - 1)
    st.session_state[PREVIEW_SUBMITTED] = True


engine = researcher_page("Preview")
if engine is not None:
    use_language(engine.study.language)
    left, right = st.columns(2)
    condition = left.selectbox("Condition", range(len(engine.conditions)), key="preview_condition",
                               format_func=lambda i: engine.conditions[i])
    seed = right.number_input("Participant seed", min_value=0, value=0, step=1, key="preview_seed",
                              help="A participant's draw of images and order; change it to see another.")
    plan = preview_plan(engine, int(condition), int(seed))
    labels = stage_labels(plan)
    if st.session_state.get(PREVIEW_STEP, 0) >= len(labels):  # another condition or seed with fewer steps
        st.session_state[PREVIEW_STEP] = len(labels) - 1
    chosen = st.selectbox("Step", range(len(labels)), format_func=labels.__getitem__, key=PREVIEW_STEP)
    st.info("Preview: nothing you answer here is stored, no participant is created, and the end page sends "
            "nobody to the recruitment site.", icon=":material/visibility:")
    if st.session_state.pop(PREVIEW_SUBMITTED, False):
        st.success(NOT_STORED, icon=":material/check:")
    st.divider()
    step = engine.step_at(plan, chosen)
    show_progress(step)
    draw_step(step, engine, Submission(step.step_id, lambda answer: _next(len(labels), answer)), done.PREVIEW)
    show_notice(step.step_id)
