"""Comprehension questions on the participant page (AppTest): asked under the instructions; wrong answers
lead to the screened-out page with the study's code, or, with a retry left, back to the instructions."""

from __future__ import annotations

from app.drive import answer_step, click, current_kind, new_app, texts
from study_app.ui.state_keys import widget_key

RIGHT, WRONG = "What the model relied on", "Where the animal is"
COMPREHENSION = f"""
[[comprehension]]
id = "maps"
text = "What do the highlighted regions show?"
options = ["{RIGHT}", "{WRONG}"]
correct = "{RIGHT}"
"""


def _study(setup_study, **settings):
    """A verification study with one comprehension question and the given ``[study]`` settings."""
    setup = setup_study("verification", tail=COMPREHENSION)
    lines = "".join(f"{key} = {value}\n" for key, value in settings.items())
    text = setup.study_file.read_text(encoding="utf-8")
    setup.study_file.write_text(text.replace("[study]\n", "[study]\n" + lines, 1), encoding="utf-8")
    return setup


def _at_instructions():
    at = new_app().run()
    while current_kind(at) != "instructions":
        answer_step(at)
    assert "Check your understanding" in texts(at)
    return at


def _answer(at, option: str):
    at.radio(key=widget_key("instructions", "maps")).set_value(option)
    return click(at, "I understand")


def test_wrong_comprehension_answers_end_on_the_screened_out_page_with_its_code(setup_study):
    _study(setup_study, screen_out_after=1, screened_out_code='"SCR33N"')
    at = _answer(_at_instructions(), WRONG)
    assert not at.exception
    assert [t.value for t in at.title] == ["Thank you for your time"]
    assert [c.value for c in at.code] == ["SCR33N"]
    at.run()  # a reload shows the same end page
    assert [t.value for t in at.title] == ["Thank you for your time"]


def test_a_retry_shows_the_instructions_again_then_the_study_goes_on(setup_study):
    _study(setup_study, screen_out_after=1, comprehension_retries=1)
    at = _answer(_at_instructions(), WRONG)
    assert current_kind(at) == "instructions"
    assert "Please read the instructions again" in " ".join(w.value for w in at.warning)
    assert at.radio(key=widget_key("instructions", "maps")).value is None  # answered afresh
    at = _answer(at, RIGHT)
    assert current_kind(at) == "trial"
