"""Preview and pilot never reach the recruiter (issue 21, item 2): the preview's step picker takes every choice,
its end page sends nobody anywhere, and a pilot run ends on its own page without the real completion code.
A real participant's end page, in the same tests, still gets the code and the way back (so the checks can fail)."""

from __future__ import annotations

from app.drive import new_app, run_to_end, texts
from study_app.study.screening import pilot_key
from study_app.ui import state_keys

CODE = "DONE-42"  # the kit study's completion code, also in its redirect_url
ID_KEY = "an-id-key-for-these-tests-only-0123456789"


def link_buttons(at) -> list:
    return list(at.get("link_button"))


def codes(at) -> list[str]:
    return [c.value for c in at.code]


def open_preview(setup_study):
    setup_study("verification", trials=2)
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    return at.switch_page("app_pages/researcher_preview.py").run()


def test_the_step_picker_takes_every_choice_in_a_row(setup_study):
    """Its key used to carry the step from before the pick, so every second pick drew a fresh widget that
    showed the old step instead."""
    at = open_preview(setup_study)
    labels = at.selectbox(key="preview_step_picker").options
    trials = [i for i, label in enumerate(labels) if "trial:" in label]
    for target in (trials[0], trials[1], 0, len(labels) - 1, trials[0]):
        at.selectbox(key="preview_step_picker").set_value(target).run()
        assert not at.exception
        assert at.selectbox(key="preview_step_picker").value == target
        page = texts(at)
        if target == 0:
            assert "You agree to take part." in page
        elif target == len(labels) - 1:
            assert "Thank you!" in page
        else:
            assert f"Image {trials.index(target) + 1} of 2" in page


def test_the_preview_end_page_sends_nobody_to_the_recruiter(setup_study):
    at = open_preview(setup_study)
    at.selectbox(key="preview_step_picker").set_value(len(at.selectbox(key="preview_step_picker").options) - 1).run()
    assert "Thank you!" in texts(at) and not at.exception
    assert f"a participant sees the code `{CODE}`" in texts(at) and "Nothing is sent from this preview" in texts(at)
    assert not link_buttons(at) and not codes(at)


def test_a_real_participant_still_gets_the_code_and_the_way_back(setup_study):
    setup_study("verification", trials=2)
    at = new_app().run()
    run_to_end(at)
    assert codes(at) == [CODE] and len(link_buttons(at)) == 1
    assert CODE in link_buttons(at)[0].proto.url


def test_a_pilot_run_ends_on_its_own_page_without_the_completion_code(setup_study, monkeypatch):
    monkeypatch.setenv("XAI_STUDY_ID_KEY", ID_KEY)
    setup = setup_study("verification", trials=2)
    from study_app.study import load_study

    key = pilot_key(ID_KEY.encode(), load_study(setup.study_file, check_images=False).id)
    at = new_app({"pilot": key}).run()
    assert "Pilot run" in texts(at)
    run_to_end(at)
    assert "Pilot run finished" in texts(at) and "no completion code" in texts(at)
    assert not codes(at) and not link_buttons(at) and CODE not in texts(at)
