"""What a participant's click costs the server, counted rather than timed (timings live in
``benchmarks/click_cost.py``): script runs per click, and garbage-collector work over the loaded models."""

from __future__ import annotations

import gc
import logging
import tomllib
from collections import Counter

import pytest
from e2e.streamlit_server import PROJECT_ROOT

from app.conftest import db_counts
from app.drive import answer_step, current_kind, new_app


class _Runs(logging.Handler):
    """Collects the page's own "page_built" timing lines: one per script run of the participant page."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(record.getMessage())


@pytest.fixture
def script_runs():
    logger = logging.getLogger("study_app.timing")
    handler, level = _Runs(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    yield handler.lines
    logger.removeHandler(handler)
    logger.setLevel(level)


def test_every_click_is_one_script_run_that_draws_the_next_step(setup_study, script_runs):
    """The answer is stored in the submit button's callback, before the run; the run then draws the next
    step. Storing it halfway through drawing the old step and calling ``st.rerun()`` cost two runs."""
    setup = setup_study("verification", trials=3)
    at = new_app().run()
    kinds = [current_kind(at)]
    for clicks in range(1, 8):
        before = len(script_runs)
        answer_step(at)
        kinds.append(current_kind(at))
        runs = script_runs[before:]
        assert len(runs) == 1, f"click {clicks} ({kinds[-2]} -> {kinds[-1]}) took {len(runs)} runs: {runs}"
        assert "submitted=1" in runs[0], runs
        assert kinds[-1] != kinds[-2] or kinds[-1] == "trial"
        if kinds[-1] == "done":
            break
    assert kinds[:4] == ["consent", "questionnaire", "instructions", "trial"]
    assert kinds[-1] == "done"
    assert db_counts(setup)["responses"] == 3


def test_a_refused_answer_is_one_run_and_keeps_the_step(setup_study, script_runs):
    setup_study("verification", trials=2)
    at = new_app().run()
    for _ in range(3):
        answer_step(at)
    assert current_kind(at) == "trial"
    before = len(script_runs)
    next(b for b in at.button if b.label == "Continue").click().run()  # nothing chosen
    assert len(script_runs) - before == 1
    assert current_kind(at) == "trial"
    assert any("Please answer" in w.value for w in at.warning)
    at.run()  # the notice is shown once, with the refused submission only
    assert not any("Please answer" in w.value for w in at.warning)


def test_the_project_config_turns_off_streamlits_forced_full_collection():
    """Streamlit's default runs ``gc.collect(2)`` after every script run; over torch and the models that
    was two thirds of a click's server CPU. The project's own config switches it off."""
    config = tomllib.loads((PROJECT_ROOT / ".streamlit" / "config.toml").read_text())
    assert config["runner"]["postScriptGC"] is False


def test_the_loaded_heap_is_frozen_once_the_study_opens(setup_study):
    """After the study (models, cache) has loaded, full collections skip it (``gc.freeze``)."""
    setup_study("verification", trials=2)
    gc.unfreeze()
    new_app().run()
    assert gc.get_freeze_count() > 10_000  # torch, captum, the study's models and maps


def test_a_click_reads_the_participant_once_and_writes_once(setup_study):
    """The submit callback reads the participant, stores the answer and the move on in one transaction, and
    returns the next step; the run that follows draws that step instead of reading the participant again."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    setup_study("verification", trials=3)
    at = new_app().run()
    for _ in range(4):  # consent, questionnaire, instructions: onto the first trial
        answer_step(at)
    assert current_kind(at) == "trial"
    counts: Counter = Counter()

    def before(conn, cursor, statement, *args):
        counts[statement.lstrip().split(None, 1)[0].upper()] += 1

    event.listen(Engine, "before_cursor_execute", before)
    try:
        first = [s.value for s in at.subheader]
        answer_step(at)
    finally:
        event.remove(Engine, "before_cursor_execute", before)
    assert current_kind(at) == "trial" and [s.value for s in at.subheader] != first
    # one read of the participant by token, and in the write transaction: the locked read of the stage, the
    # stage update, the response, the answer event and the next trial's showing record
    assert counts["SELECT"] == 2, counts
    assert counts["UPDATE"] == 1 and counts["INSERT"] == 3, counts
