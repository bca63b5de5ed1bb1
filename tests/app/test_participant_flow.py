"""The participant page in AppTest: every protocol end to end, resume, decline, withdraw, refusals, errors."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.conftest import db_counts, stored_responses
from app.drive import answer_step, click, current_kind, new_app, run_to_end, texts

PROTOCOLS = ["rate", "verification", "forward_simulation", "distinction", "decision"]


def test_consent_page_shows_the_study_and_stores_nothing(setup_study):
    setup = setup_study("verification")
    at = new_app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["Test study: verification"]
    assert "You agree to take part." in texts(at)
    assert current_kind(at) == "consent"
    assert db_counts(setup)["participants"] == 0, "nothing may be stored before consent"
    assert at.query_params["p"], "the participant token must be in the URL so a reload resumes"


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_full_run_of_each_protocol_is_stored(setup_study, protocol):
    setup = setup_study(protocol, checks=1, **({"display": "side_by_side"} if protocol == "rate" else {}))
    at = new_app().run()
    seen = run_to_end(at)
    assert seen[:3] == ["consent", "questionnaire", "instructions"]
    assert seen[-1] == "done"
    trial_pages = seen.count("trial")
    counts = db_counts(setup)
    assert counts["participants"] == 1
    assert counts["responses"] == trial_pages, "one stored response per answered trial step"
    assert counts["questionnaire_answers"] >= 3  # age band, ML experience, domain expertise
    assert [c.value for c in at.code] == ["DONE-42"]
    assert [b.url for b in at.get("link_button")] == ["https://app.prolific.com/submissions/complete?cc=DONE-42"]
    if protocol in ("rate", "verification", "distinction"):
        cache = Path(os.environ["XAI_STUDY_CACHE"])
        assert any(p.is_file() for p in cache.rglob("*")), "a missing map is computed once and cached"
    if protocol == "rate":  # two methods side by side: the closing ranking and trust-per-method page
        assert seen.count("questionnaire") == 2
        assert counts["questionnaire_answers"] == 3 + 1 + 2
    if protocol == "verification":  # the driver picks the first option: accept, lowest confidence
        answers = [r.answer for r in stored_responses(setup)]
        assert answers and all(a == {"decision": "accept", "confidence": 1} for a in answers), answers


def test_a_reload_resumes_at_the_same_trial(setup_study):
    setup_study("verification", trials=3)
    at = new_app().run()
    for _ in range(4):  # consent, questionnaire, instructions, first trial
        answer_step(at)
    assert current_kind(at) == "trial"
    where = [s.value for s in at.subheader]
    assert where == ["Image 2 of 3"]
    token = at.query_params["p"]
    reloaded = new_app({"p": token}).run()  # a reload: new session, same URL
    assert [s.value for s in reloaded.subheader] == where
    assert reloaded.query_params["p"] == token


def test_an_unknown_token_starts_at_consent(setup_study):
    setup_study("verification")
    at = new_app({"p": "x" * 30}).run()
    assert current_kind(at) == "consent"


def test_an_incomplete_answer_is_refused_and_nothing_stored(setup_study):
    setup = setup_study("verification")
    at = new_app().run()
    for _ in range(3):
        answer_step(at)
    assert current_kind(at) == "trial"
    before = [s.value for s in at.subheader]
    click(at, "Continue")  # nothing chosen
    assert "Please answer" in " ".join(w.value for w in at.warning)
    assert [s.value for s in at.subheader] == before
    assert db_counts(setup)["responses"] == 0


def test_declining_consent_stores_nothing(setup_study):
    setup = setup_study("verification")
    at = new_app().run()
    click(at, "I do not agree")
    assert "You chose not to take part" in texts(at)
    assert db_counts(setup)["participants"] == 0
    assert "p" not in at.query_params


def test_withdrawal_deletes_the_participants_answers(setup_study):
    setup = setup_study("verification")
    at = new_app().run()
    for _ in range(4):
        answer_step(at)
    assert db_counts(setup)["responses"] == 1
    assert not [c for c in at.checkbox if c.key == "withdraw_confirm"]  # asked only once the dialog opens
    at.button(key="withdraw_open").click().run()
    at.checkbox(key="withdraw_confirm").check().run()
    at.button(key="withdraw_button").click().run()
    assert "You have withdrawn" in texts(at)
    counts = db_counts(setup)
    assert counts["participants"] == counts["responses"] == counts["questionnaire_answers"] == 0


def test_every_widget_has_a_key_and_images_have_alt_text(setup_study):
    setup_study("rate", display="side_by_side")
    at = new_app().run()
    pictures = 0
    for _ in range(6):  # through consent, questionnaire, instructions and into the trials
        widgets = [*at.button, *at.radio, *at.selectbox, *at.text_area, *at.checkbox, *at.number_input]
        unkeyed = [w.label for w in widgets if not w.key]
        assert not unkeyed, f"widgets without a key on the {current_kind(at)} page: {unkeyed}"
        for image in at.get("image"):  # AppTest's name for st.image ("imgs" matched nothing: the check was empty)
            assert all(img.alt.strip() for img in image.proto.imgs), "every image needs alt text"
            pictures += len(image.proto.imgs)
        answer_step(at)
    assert pictures >= 6, pictures  # the worked example's two, a trial's image and its three maps


@pytest.mark.parametrize(
    ("task_name", "setting", "shown"),
    [
        ("brain_mri", "", True),  # guessed from the name
        ("pets", "", False),
        ("pets", "clinical_notice = true", True),  # e.g. a dermatology task with neutral names
        ("brain_mri", "clinical_notice = false", False),  # the researcher knows better
    ],
)
def test_the_research_only_notice_follows_the_task(setup_study, tiny_checkpoint, tiny_stimuli, task_name, setting,
                                                   shown):
    from study.kit import TASK

    task = TASK.format(task=task_name, protocol="verification", checkpoint=tiny_checkpoint.as_posix(),
                       stimuli=tiny_stimuli.as_posix(), trials=2, checks=0, extra=setting)
    setup_study("verification", tasks=task)
    at = new_app().run()
    for _ in range(3):
        answer_step(at)
    assert current_kind(at) == "trial"
    assert any("not for clinical use" in w.value for w in at.warning) is shown


def test_a_broken_study_file_shows_a_friendly_page(setup_study, monkeypatch, tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("[study\nid = ", encoding="utf-8")
    monkeypatch.setenv("XAI_STUDY_FILE", str(broken))
    at = new_app().run()
    assert not at.exception
    assert [t.value for t in at.title] == ["This study is not available right now"]
    assert "TOML" not in texts(at) and "broken.toml" not in texts(at)


def test_an_unexpected_error_never_shows_a_traceback(setup_study, monkeypatch):
    from study_app.study import StudyEngine

    setup_study("verification")

    def explode(self, *args, **kwargs):
        raise RuntimeError("internal detail: /secret/path line 42")

    monkeypatch.setattr(StudyEngine, "resume", explode)
    at = new_app().run()
    assert not at.exception
    shown = texts(at)
    assert "Sorry, something went wrong" in shown
    assert "secret" not in shown and "RuntimeError" not in shown
