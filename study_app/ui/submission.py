"""A step's submit button whose answer is stored *before* the next script run draws anything.

Streamlit runs a widget's ``on_click`` callback at the start of the run that the click triggers, before the
page script. Storing the answer there means that one run per click draws the next step directly. The
older way (the script notices the submitted form halfway through drawing the old step, stores the answer,
then ``st.rerun()``) cost two script runs per click and drew the old step a second time.

A form's ``collect`` function reads the submitted widget values from ``st.session_state`` (their keys come
from :func:`study_app.ui.state_keys.widget_key`) and returns ``(answer, missing)``: the answer dict, or the
participant-facing names of what is still missing. A refusal (missing answers, or an answer the engine
rejects) becomes a notice that the next run shows under the same step's form.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from study_app.ui import state_keys
from study_app.ui.friendly_errors import friendly_errors
from study_app.ui.language import _

Collect = Callable[[], tuple[dict | None, list[str]]]
Store = Callable[[dict], str | None]  # stores the answer; returns a notice when it was refused


class Submission:
    """The submit buttons of one step. ``store`` is called with the collected answer inside the callback."""

    def __init__(self, step_id: str, store: Store):
        self.step_id = step_id
        self._store = store

    def button(self, label: str, collect: Collect, *, key: str, primary: bool = True) -> None:
        """A form submit button that stores ``collect()``'s answer when clicked (call inside ``st.form``).

        A click that reaches a session which never drew this button (the browser reconnected to a restarted
        server or to another replica, and the new session has no callback registered) runs no callback; the
        button still reports the click in this run, so the answer is stored here and the page rerun once.
        """
        clicked = st.form_submit_button(label, type="primary" if primary else "secondary", key=key,
                                        on_click=self._clicked, args=(collect, key))
        if clicked and st.session_state.pop(state_keys.SUBMISSION_HANDLED, None) != key:
            self._submitted(collect)
            st.rerun()

    def _clicked(self, collect: Collect, key: str) -> None:
        st.session_state[state_keys.SUBMISSION_HANDLED] = key
        self._submitted(collect)

    def _submitted(self, collect: Collect) -> None:
        with friendly_errors():
            answer, missing = collect()
            if missing or answer is None:
                notify(self.step_id, _("Please answer: {missing}").format(
                    missing="; ".join(missing or [_("every question")])))
                return
            notice = self._store(answer)
            if notice:
                notify(self.step_id, notice)


def notify(step_id: str, text: str) -> None:
    """Show ``text`` with the step ``step_id`` on the next run (and only there)."""
    st.session_state[state_keys.FLASH] = (step_id, text)


def show_notice(step_id: str) -> None:
    """The notice left for this step by its last submission, if any; shown once."""
    flash = st.session_state.pop(state_keys.FLASH, None)
    if flash and flash[0] == step_id:
        st.warning(flash[1], icon=":material/edit_note:")


def widget_value(key: str):
    """A submitted widget's value (``None`` when the widget was never drawn or left empty)."""
    return st.session_state.get(key)
