"""One script run of the participant page: find the participant, draw their step, pass the answer on.

The engine (and through it the database) decides the step; this module only draws it and forwards the
answer. A reload starts a fresh Streamlit session, so the token travels in the URL (``?p=...``) and the
participant resumes at the same step. Answers the engine refuses are shown as a gentle request to check
them; anything unexpected becomes a friendly message with a reference (see ``ui.friendly_errors``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from functools import partial

import streamlit as st

from study_app.app_pages.steps import consent, done, instructions, questionnaire, trial
from study_app.study import AnswerError, normalise_external_ids
from study_app.study.device_gate import DeviceRefused
from study_app.study.quality import keep_signals
from study_app.study.screening import PILOT_PARAM, SIMULATE_PARAM, is_pilot_link
from study_app.study.steps import (
    ARM_QUESTIONNAIRE,
    CONSENT,
    DECLINED,
    DONE,
    HIVE_STEPS,
    INSTRUCTIONS,
    POST_QUESTIONNAIRE,
    PRE_QUESTIONNAIRE,
    SCREENED_OUT,
    TRIAL,
    WITHDRAWN,
)
from study_app.ui import state_keys
from study_app.ui.browser import keep_page_signals, submitted_signals
from study_app.ui.friendly_errors import friendly_errors
from study_app.ui.language import _, file_language, use_language
from study_app.ui.resources import StudyUnavailable, app_settings, study_engine
from study_app.ui.state_keys import ENDED, NEXT_STEP, SUBMITTED, WITHDRAWING, widget_key
from study_app.ui.submission import Submission, show_notice
from study_app.ui.trial_forms import signals_key

SIGNAL_STEPS = (TRIAL, PRE_QUESTIONNAIRE, ARM_QUESTIONNAIRE, POST_QUESTIONNAIRE)  # forms that carry the browser's signals
timing = logging.getLogger("study_app.timing")  # DEBUG lines "page_built"; benchmarks/load_test.py reads them


def link_ids() -> dict:
    """The recruitment site's parameters in the page's URL, as given (the engine checks them)."""
    return {k: st.query_params.get(k) for k in state_keys.PROLIFIC_PARAMS if k in st.query_params}


def participant_and_step(engine):
    """The participant's token (from the URL after a reload, this session, or new; written back into the
    URL) and the step to show them, from one read of the database. An unusable Prolific id in the link is
    dropped, the usable ones kept, and the refusal is noted when the participant consents."""
    given = st.query_params.get(state_keys.TOKEN_PARAM) or st.session_state.get(state_keys.PARTICIPANT_TOKEN)
    token, step = engine.resume(given, external_ids=link_ids())
    st.session_state[state_keys.PARTICIPANT_TOKEN] = token
    if st.query_params.get(state_keys.TOKEN_PARAM) != token:
        st.query_params[state_keys.TOKEN_PARAM] = token
    return token, step


def admitted_to_consent(engine, run: str) -> bool:
    """Before consent: a study that requires a Prolific id turns away a visitor whose link has no usable one
    (politely, in the study's language, offering no consent); a link with an unusable id is mentioned."""
    ids = normalise_external_ids(link_ids())
    if ids.lack_required_id(engine.study, pilot=run == done.PILOT):
        st.title(_("Please open this study from Prolific"))
        st.markdown(_("This study can only be started from its link on Prolific: the link tells us who you "
                      "are, so that your participation can be recorded and paid. Please go back to Prolific "
                      "and open the study from there. If you did, please contact the researchers through "
                      "Prolific."))
        return False
    if ids.refused:
        st.warning(_("The link you followed carries an unreadable participant id; it was ignored."))
    return True


def is_pilot_run(engine) -> bool:
    """The page was opened through the study's pilot link (see :mod:`study_app.study.screening`)."""
    return is_pilot_link(st.query_params.get(PILOT_PARAM), engine.pilot_key)


def is_simulated_run(engine) -> bool:
    """The page was opened through ``xai-study simulate --browser``'s link: the participant is synthetic."""
    return is_pilot_link(st.query_params.get(SIMULATE_PARAM), engine.simulate_key)


def forget_participant() -> None:
    st.session_state.pop(state_keys.PARTICIPANT_TOKEN, None)
    st.query_params.pop(state_keys.TOKEN_PARAM, None)


def show_progress(step) -> None:
    answered, total = step.progress
    if total > 0:
        st.progress(min(1.0, answered / total),
                    text=_("Progress: step {step} of {total}").format(step=min(answered + 1, total), total=total))


def draw_step(step, engine, submission: Submission, run: str = done.PARTICIPANT) -> None:
    """Draw ``step``; its submit buttons store the answer through ``submission`` when clicked. ``run``: a
    participant's, a pilot's or the researcher's preview (the end pages differ: see :mod:`.steps.done`)."""
    if step.kind == CONSENT:
        consent.render(step, engine.study, submission)
    elif step.kind in (PRE_QUESTIONNAIRE, ARM_QUESTIONNAIRE, POST_QUESTIONNAIRE, *HIVE_STEPS):
        questionnaire.render(step, submission)
    elif step.kind == INSTRUCTIONS:
        instructions.render(step, engine, submission)
    elif step.kind == TRIAL:
        trial.render(step, submission)
    elif step.kind == DONE:
        done.render(step, engine.study, run)
    elif step.kind == SCREENED_OUT:
        done.render_screened_out(engine.study, run)
    else:
        raise ValueError(f"unknown step kind {step.kind!r}")


def store_answer(engine, token: str, step, answer: dict) -> str | None:
    """Store ``answer`` to ``step`` (inside the submit callback); a notice when the engine refuses it."""
    st.session_state[SUBMITTED] = True
    signals = submitted_signals(signals_key(step.step_id)) if step.kind in SIGNAL_STEPS else None
    try:
        following = engine.submit(token, step.step_id, answer, signals=signals, pilot=is_pilot_run(engine),
                                   synthetic=is_simulated_run(engine))
    except DeviceRefused as err:  # consent from a device the study's gate refuses: nobody was enrolled
        return err.reason(_)
    except AnswerError as err:
        return _("Please check your answer ({field}): it could not be saved as given.").format(
            field=err.field or _("answer"))
    if following.kind in (DECLINED, WITHDRAWN):
        st.session_state[ENDED] = following.kind
        forget_participant()
    else:
        st.session_state[NEXT_STEP] = (token, following)
    if following.retry:  # a wrong comprehension answer with a retry left: read again, answer afresh
        for question in step.questions:
            st.session_state.pop(widget_key(step.step_id, question.id), None)
        return _("Not every answer was right. Please read the instructions again, then answer once more.")
    return None


def _withdraw(engine, token: str) -> None:
    st.session_state.pop(WITHDRAWING, None)
    with friendly_errors():
        engine.withdraw(token)
        st.session_state[ENDED] = WITHDRAWN
        forget_participant()


def _withdrawal_dialog(engine, token: str) -> None:
    st.markdown(_("You can stop at any time. Withdrawing **deletes every answer you have given** here."))
    sure = st.checkbox(_("Yes, delete my answers and leave the study"), key="withdraw_confirm")
    if st.button(_("Withdraw and delete my answers"), key="withdraw_button", disabled=not sure):
        _withdraw(engine, token)
        st.rerun()  # the whole page, not only the dialog (a fragment): it now shows the withdrawal


def offer_withdrawal(engine, token: str) -> None:
    """One small button on every step; its confirmation opens in a dialog. A collapsed expander sent its
    text, checkbox and button with every screen (issue 10: four elements per click for a rare action)."""
    title = _("Withdraw from the study")
    st.button(title, key="withdraw_open", type="tertiary", icon=":material/logout:",
              on_click=st.session_state.__setitem__, args=(WITHDRAWING, True))
    if st.session_state.get(WITHDRAWING):
        st.dialog(title, on_dismiss=lambda: st.session_state.pop(WITHDRAWING, None))(_withdrawal_dialog)(
            engine, token)


def show_ended(kind: str, study, run: str = done.PARTICIPANT) -> None:
    if kind == DECLINED:
        done.render_declined(study, run)
    else:
        st.title(_("You have withdrawn"))
        st.markdown(_("Your answers have been deleted. Thank you for your time; you can close this page."))
    st.button(_("Start again"), key="start_again", on_click=st.session_state.pop, args=(ENDED, None))


def run_participant_flow() -> None:
    start, built = time.perf_counter(), {"kind": "none", "submitted": False}
    try:
        _participant_run(built)
    finally:
        if timing.isEnabledFor(logging.DEBUG):
            timing.debug("page_built kind=%s submitted=%d ms=%.2f", built["kind"], built["submitted"],
                         (time.perf_counter() - start) * 1000)


def _participant_run(built: dict) -> None:
    with friendly_errors():
        try:
            engine = study_engine()
        except StudyUnavailable:  # in the language the study file names, if it can be read
            use_language(file_language(app_settings().study_file))
            st.title(_("This study is not available right now"))
            st.markdown(_("Please try again later. If you came from a recruitment site, you can contact the "
                          "research team there."))
            return
        use_language(engine.study.language)
        run = done.PILOT if PILOT_PARAM in st.query_params and is_pilot_run(engine) else done.PARTICIPANT
        ended = st.session_state.get(ENDED)
        if ended:
            show_ended(ended, engine.study, run)
            return
        known = st.session_state.pop(NEXT_STEP, None)
        if known is not None and known[0] == st.session_state.get(state_keys.PARTICIPANT_TOKEN):
            token, step = known  # what the click's own submit returned: no second read of the participant
        else:
            token, step = participant_and_step(engine)
        built["kind"] = step.kind
        built["submitted"] = st.session_state.pop(SUBMITTED, False)
        if step.kind == CONSENT and not admitted_to_consent(engine, run):
            return
        if step.kind == CONSENT and step.full and (run == done.PILOT or is_simulated_run(engine)):
            step = replace(step, full=False)  # the caps never turn away a pilot or a synthetic participant
        if run == done.PILOT:
            st.info(_("Pilot run: your answers are stored flagged as a pilot and left out of the study's "
                      "data and balance."), icon=":material/science:")
        if step.kind not in (CONSENT, DONE, SCREENED_OUT):
            show_progress(step)
        draw_step(step, engine, Submission(step.step_id, partial(store_answer, engine, token, step)), run)
        if step.kind == TRIAL:  # the browser's counts, kept as they change: a reload continues them
            keep_page_signals(widget_key(step.step_id, "kept_signals"), partial(keep_signals, engine, token, step))
        show_notice(step.step_id)
        if step.kind not in (CONSENT, DONE, SCREENED_OUT):
            offer_withdrawal(engine, token)
