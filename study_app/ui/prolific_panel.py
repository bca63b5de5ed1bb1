"""The Researcher area's Prolific section (on the Progress page): the actions of ``xai-study prolific`` with
the same confirmations. Listing is immediate; a change (approve, reject or return, bonus, sync) first runs as
a dry run that says what would be sent, then needs a ticked confirmation naming how many, then a click.
Every run is in the audit log (actor ``web``). The token comes from the settings and is never shown."""

from __future__ import annotations

import streamlit as st

from study_app.recruit.actions import ACTIONS, CHANGES, ProlificActions, RecruitError
from study_app.recruit.prolific_api import ProlificClient, ProlificError
from study_app.settings import SettingsError
from study_app.settings.resolve import resolve_prolific_api_url, resolve_prolific_token
from study_app.study.id_key import IdKeyError, resolve_id_key
from study_app.ui.resources import app_settings
from study_app.ui.state_keys import PROLIFIC_DRY_RUN as DRY_RUN_KEY
from study_app.ui.state_keys import PROLIFIC_REPORT as LAST_REPORT_KEY

VERBS = {"status": "List submissions", "approve": "Approve", "reject": "Reject / ask to return",
         "bonus": "Pay bonuses", "sync": "Mark returned / timed out"}


def _actions(engine) -> ProlificActions | None:
    """The study's Prolific actions, or ``None`` with the reason shown."""
    if not engine.study.recruitment.prolific_study_id:
        st.caption("Set `prolific_study_id` in the study file's `[recruitment]` table to settle submissions here.")
        return None
    try:
        token = resolve_prolific_token().value
        key = app_settings().engine_id_key()
        if key is None and not engine.study.keep_external_ids:
            key = resolve_id_key(needed=True)  # the key the engine created in secrets.toml at its start
    except (SettingsError, IdKeyError) as exc:
        st.error(str(exc))
        return None
    if not token:
        st.caption("No Prolific API token: set `XAI_STUDY_PROLIFIC_TOKEN` or `prolific_token` in "
                   "`.streamlit/secrets.toml`, then restart the app.")
        return None
    try:
        return ProlificActions(engine.study, engine.repository, ProlificClient(token, resolve_prolific_api_url()), key,
                                actor="web")
    except (RecruitError, ProlificError) as exc:
        st.error(str(exc))
        return None


def _run(actions: ProlificActions, action: str, *, confirm: bool) -> None:
    try:
        report = actions.run(action, confirm=confirm)
    except (RecruitError, ProlificError) as exc:
        st.session_state[LAST_REPORT_KEY] = (action, [f"failed: {exc}"])
        st.session_state.pop(DRY_RUN_KEY, None)
        return
    st.session_state[LAST_REPORT_KEY] = (action, report.lines)
    if report.dry_run:
        st.session_state[DRY_RUN_KEY] = (action, report.planned)
    else:
        st.session_state.pop(DRY_RUN_KEY, None)


def prolific_section(engine) -> None:
    with st.expander("Prolific: approve, reject or return, bonus, sync", icon=":material/payments:"):
        actions = _actions(engine)
        if actions is None:
            return
        action = st.selectbox("Action", ACTIONS, format_func=VERBS.get, key="prolific_action")
        st.caption(f"Prolific study `{actions.prolific_study_id}`. Rules from the study file's `[recruitment]`.")
        first = "List submissions" if action not in CHANGES else "Dry run: what would be sent"
        if st.button(first, key="prolific_first"):
            _run(actions, action, confirm=False)
        dry = st.session_state.get(DRY_RUN_KEY)
        if action in CHANGES and dry and dry[0] == action and dry[1]:
            sure = st.checkbox(f"Yes, {VERBS[action].lower()}: {dry[1]} now. This cannot be undone.",
                               key=f"prolific_confirm_{action}")
            if st.button(VERBS[action], type="primary", disabled=not sure, key="prolific_go"):
                _run(actions, action, confirm=True)
        last = st.session_state.get(LAST_REPORT_KEY)
        if last and last[0] == action:
            st.code("\n".join(last[1]) or "nothing to do", language=None)
