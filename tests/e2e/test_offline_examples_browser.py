"""The offline examples walked in Chromium at desktop size: forward simulation and distinction.

Every offline example is walked at phone size, with the accessibility audit and an export at the end, by
``test_phone_browser.py``; rate, verification and decision are also walked at desktop size through the bundled
demo (``test_demo_browser.py``), and ``tests/app/test_offline_examples.py`` checks that every example's maps are
in the cache and that it passes ``xai-study check``. Here the two protocols the demo does not have are walked as
a desktop participant would, one launched each way.

The examples use the bundled checkpoints, the demo's stimuli and the demo's committed attribution cache,
so a fresh clone without internet can try rate, forward simulation, verification, distinction and decision. Each
walk starts the server the way its file's header says (``streamlit run study_app/main.py -- --study FILE``
for distinction, ``XAI_STUDY_FILE=FILE`` for forward simulation, so both launch forms stay working), answers
every step as the page asks (attention checks as instructed), and then checks the database (one completed
participant, one row per trial step, checks passed) and that the cache is byte for byte what it was:
every map came from it.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import asdict
from pathlib import Path

import pytest
from playwright.sync_api import Page

from e2e.browser_steps import (
    DECISION_FINAL,
    DECISION_INITIAL,
    DECISION_SOLE,
    answer_decision_trial,
    choose,
    click,
    wait_settled,
    wait_text,
)
from e2e.doc_screenshots import doc_shot
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import E2E_PASSWORD, E2EStudy, open_repository
from e2e.test_demo_browser import (
    DECISIONS,
    FIRST_LOAD_MS,
    STEP_MS,
    Pages,
    answer_post_questionnaire,
    answer_pre_questionnaire,
    shown_images,
    snapshot,
    trial_steps_per_task,
)

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

OFFLINE = PROJECT_ROOT / "examples" / "studies" / "offline"
DEMO_CACHE = PROJECT_ROOT / "demo" / "cache"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "offline"
EFFECT = "did this explanation help or confuse your understanding of the prediction?"
CHOICE_QUESTIONS = ("What will the model predict for this image?", "Which class did the model predict?")
# protocol -> how the server is told which study to run
LAUNCH = {"rate": "argv", "forward_simulation": "env", "verification": "env", "distinction": "argv",
          "decision": "env"}


def attention_prompt(page: Page) -> str:
    prompt = page.get_by_text(re.compile(r"^Attention check: please choose"))
    return prompt.first.inner_text() if prompt.count() else ""


def radio_group(page: Page, name: str):
    return page.get_by_role("radiogroup", name=name)


def answer_trial(page: Page, pages: Pages, image: int, total: int, class_names: list[str],
                 method_labels: list[str], document: str | None) -> tuple[str, int, bool]:
    """Answer the trial on screen, whatever its protocol; returns (kind, maps shown, was an attention check)."""
    wait_text(page, f"Image {image} of {total}", STEP_MS)
    images = shown_images(page)
    assert all(i["alt"].strip() and i["width"] > 0 for i in images), images
    maps = len(images) - 1
    prompt = attention_prompt(page)
    pages.shot(f"trial_{image}")
    if radio_group(page, "Do you trust this prediction?").count():
        assert maps == 0, "rate shows no map before the trust answer"
        wanted = re.search(r"choose (\d+) on the scale", prompt)
        choose(page, "Do you trust this prediction?", wanted.group(1) if wanted else "4")
        click(page, "Continue")
        if prompt:
            return "rate", 0, True
        wait_text(page, "did this explanation help or confuse", STEP_MS)
        maps = len(shown_images(page)) - 1
        assert maps == len(method_labels), "all maps side by side"
        for label in method_labels:
            choose(page, f"{label}: {EFFECT}", "No effect")
        pages.shot(f"trial_{image}_explanations")
        if document:
            doc_shot(page, document)
        click(page, "Continue")
        return "rate", maps, False
    if radio_group(page, "Is the model's prediction correct?").count():
        wanted = re.search(r"choose “([^”]+)”", prompt)  # the option as its radio button reads it
        choose(page, "Is the model's prediction correct?", wanted.group(1) if wanted else DECISIONS["accept"])
        choose(page, "How confident are you?", "4")
        if document and maps:
            doc_shot(page, document)
        click(page, "Continue")
        return "verification", maps, bool(prompt)
    if any(radio_group(page, name).count() for name in (DECISION_INITIAL, DECISION_FINAL, DECISION_SOLE)):
        wanted = re.search(r"choose “([^”]+)”", prompt)
        shown = answer_decision_trial(page, wanted.group(1) if wanted else class_names[image % len(class_names)],
                                      timeout=STEP_MS)
        return "decision", shown["maps"], bool(prompt)
    for question in CHOICE_QUESTIONS:
        if radio_group(page, question).count():
            wanted = re.search(r"choose “([^”]+)”", prompt)
            choose(page, question, wanted.group(1) if wanted else class_names[image % len(class_names)])
            if document and maps:
                doc_shot(page, document)
            click(page, "Continue")
            return question, maps, bool(prompt)
    click(page, "Next")  # forward simulation's learning trial: the model's answer (and map) to study
    return "learn", maps, False


def walk(page: Page, pages: Pages, server: StreamlitServer, study, task, post_questions: list[dict],
         document: str | None) -> list[tuple[str, int, bool]]:
    page.goto(server.url)
    wait_text(page, study.title, FIRST_LOAD_MS)
    pages.shot("consent")
    click(page, "I agree — start the study")
    answer_pre_questionnaire(page, pages, study)
    wait_text(page, "I understand — begin", STEP_MS)
    for question in study.comprehension:  # the comprehension questions under the instructions, answered right
        choose(page, question.text, question.correct)
    pages.shot("instructions")
    click(page, "I understand — begin")
    total = task.trials + task.learning_trials + task.attention_checks
    seen = []
    for image in range(1, total + 1):
        seen.append(answer_trial(page, pages, image, total, [task.class_label(c) for c in task.class_names],
                                 [m.label for m in study.methods],
                                 document if not any(maps for _, maps, _ in seen) else None))
    if post_questions:
        answer_post_questionnaire(page, post_questions)
        pages.shot("post_questionnaire")
        click(page, "Continue")
    wait_text(page, "Thank you!", STEP_MS)
    wait_text(page, study.completion_code, STEP_MS)
    pages.shot("done")
    wait_settled(page)
    assert "Traceback" not in page.content()
    return seen


@pytest.fixture
def no_study_settings(monkeypatch) -> None:
    """Only what each walk sets: no study file, cache folder or password from this shell."""
    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_RESEARCHER_PASSWORD", "XAI_STUDY_DB_URL"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("no_study_settings")
@pytest.mark.parametrize("protocol", ["forward_simulation", "distinction"])  # the demo walks the others
def test_offline_example_runs_end_to_end(protocol, chromium, tmp_path):
    from study_app.study import load_study  # noqa: PLC0415
    from study_app.study.protocols import protocol_of  # noqa: PLC0415

    study_file = OFFLINE / f"{protocol}.toml"
    study = load_study(study_file)
    (task,) = study.tasks
    assert task.protocol == protocol
    assert Path(study.cache_dir).resolve() == DEMO_CACHE.resolve(), "the examples share the demo's cache"
    post = list(study.post_questionnaire)
    if protocol == "rate":
        post += [q for q in protocol_of("rate").post_questions(study, study.arms) if q.id not in {p.id for p in post}]
    post_questions = [asdict(q) for q in post]

    setup = E2EStudy(study_file=study_file, db_path=tmp_path / "responses.sqlite", cache_dir=DEMO_CACHE)
    env = {"XAI_STUDY_DB_URL": setup.db_url, "XAI_STUDY_RESEARCHER_PASSWORD": E2E_PASSWORD}
    args: tuple[str, ...] = ()
    if LAUNCH[protocol] == "argv":
        args = ("--study", str(study_file.relative_to(PROJECT_ROOT)))
    else:
        env["XAI_STUDY_FILE"] = str(study_file.relative_to(PROJECT_ROOT))
    folder = ARTIFACTS / protocol
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.png"):
        old.unlink()
    cache_before = snapshot(DEMO_CACHE)
    document = {"distinction": "participant_distinction_trial"}.get(protocol)

    with StreamlitServer(env, folder / "server.log", script_args=args) as server:
        context = chromium.new_context(viewport={"width": 1280, "height": 1600})
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        pages = Pages(page, folder)
        try:
            seen = walk(page, pages, server, study, task, post_questions, document)
            assert not dialogs, dialogs
        except BaseException:
            with contextlib.suppress(Exception):
                pages.shot("failure")
            raise
        finally:
            context.close()
    server_log = server.log_text()
    assert "Traceback" not in server_log, server_log[-4000:]
    assert snapshot(DEMO_CACHE) == cache_before, (
        f"maps were computed live; precompute them: xai-study precompute --study {study_file.relative_to(PROJECT_ROOT)}")

    assert sum(check for *_, check in seen) == task.attention_checks
    maps_shown = [maps for _, maps, _ in seen]
    if protocol == "distinction":
        assert all(m == task.k for m in maps_shown), maps_shown  # one map per candidate class
    else:
        assert any(maps_shown), "no trial showed an explanation map"
    if protocol == "forward_simulation":
        kinds = [kind for kind, *_ in seen]
        assert kinds.count("learn") == task.learning_trials
        assert all(m == 0 for kind, m, _ in seen if kind != "learn"), "the test phase shows no map"

    repo, record = open_repository(setup)
    try:
        participants = repo.participants(record.id)
        responses = list(repo.responses(record.id))
        understood = {q.question_id: q.answer for q in repo.questionnaire_answers(record.id)
                      if q.questionnaire == "comprehension"}
    finally:
        repo.dispose()
    assert [p.status for p in participants] == ["completed"]
    assert understood == {q.id: q.correct for q in study.comprehension}
    assert len(responses) == trial_steps_per_task(task)
    checks = [r for r in responses if r.is_attention_check]
    assert len(checks) == task.attention_checks and all(r.attention_passed for r in checks)
    if protocol == "decision":  # the advice was asked for on the three arms that give it, and timed
        asked = [r.answer for r in responses if r.phase == "final" and "advice_requested" in r.answer]
        assert len(asked) == 3 and all(a["advice_requested"] and a["advice_requested_ms"] >= 0 for a in asked)
