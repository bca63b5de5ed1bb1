"""The bundled demo, end to end, as a new user meets it on a fresh clone.

``streamlit run study_app/main.py`` from the repository root with nothing configured (no study file, no
cache folder, an empty database) must open ``demo/study.toml`` by itself. Debian's Chromium then takes one
participant through the whole demo: consent, pre-questionnaire, instructions, every pets ``rate`` trial
(trust, then LIME, Kernel SHAP and Grad-CAM side by side, each judged), every MRI ``verification`` trial
including the attention check (answered as asked), the post-questionnaire, and the completion code.
Then the researcher area as the README describes it: ``/researcher``, opened with the one-time password
that the server log shows only after the first page visit.

Afterwards the database must hold one completed participant with one response per trial step, and the
committed attribution cache (``demo/cache/``) must be byte for byte what it was: every map came from it,
none was computed. A screenshot of every page goes to ``test-artifacts/demo/``; the README's screenshots
(``docs/screenshots/``) are taken here too (see ``e2e.doc_screenshots``).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, expect

from e2e.browser_steps import answer_decision_trial, choose, click, wait_settled, wait_text
from e2e.doc_screenshots import doc_shot
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import E2EStudy, open_repository

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DEMO_STUDY = PROJECT_ROOT / "demo" / "study.toml"
DEMO_CACHE = PROJECT_ROOT / "demo" / "cache"
STRAY_CACHE = PROJECT_ROOT / ".xai_cache"  # where maps would land if the demo's cache folder were ignored
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "demo"

FIRST_LOAD_MS = 120_000  # the first page imports torch and opens both models: slow on a 2-core CI machine
STEP_MS = 90_000

EFFECT_CHOICES = ("It helped me understand", "It confused me", "No effect")
ONE_TIME_PASSWORD = re.compile(r"Bundled demo: researcher one-time password for this server run: (\S+)")
DECISIONS = {"accept": "Yes, the prediction is correct", "reject": "No, the prediction is wrong"}


def snapshot(folder: Path) -> dict[str, str]:
    """Relative path -> sha256 of every file under ``folder`` (empty when it does not exist)."""
    if not folder.is_dir():
        return {}
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def trial_steps_per_task(task) -> int:
    """Response rows one participant leaves in a task: a ``rate`` item has a trust step and, with maps
    shown, an explanation step; an attention check is a single step; other protocols one step per item."""
    items = task.trials + task.learning_trials
    if task.protocol == "rate":
        return 2 * items + task.attention_checks
    if task.protocol == "decision" and task.decision.variant == "two_step":
        # two steps per trial but one on the human arm's (within subjects: trials / arms of them)
        return 2 * items - items // len(task.decision.arms) + task.attention_checks
    return items + task.attention_checks


class Pages:
    """Numbered full-page screenshots, in the order the participant met the pages."""

    def __init__(self, page: Page, folder: Path):
        self.page, self.folder, self.n = page, folder, 0

    def shot(self, name: str) -> None:
        self.n += 1
        self.page.screenshot(path=str(self.folder / f"{self.n:02d}_{name}.png"), full_page=True)


PANEL_LABELS = ["Similar photos", "Concepts"]  # the demo's panels (study_app.explain.panels), in its order

def shown_images(page: Page) -> list[dict]:
    """Every picture on the page, with its alt text and whether the browser actually decoded it."""
    images = page.locator("[data-testid='stImage'] img")
    expect(images.first).to_be_visible(timeout=STEP_MS)
    page.wait_for_function(
        "() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
        ".every(i => i.complete && i.naturalWidth > 0)", timeout=STEP_MS)
    return images.evaluate_all(
        "els => els.map(e => ({alt: e.getAttribute('alt') || '', width: e.naturalWidth}))")


def input_size(task) -> int:
    return json.loads((Path(task.checkpoint) / "card.json").read_text())["input_size"]


def expect_sharp(images: list[dict], model_input: int) -> None:
    """The photo at display resolution (wider than the model input it used to be upscaled from), and every
    map drawn onto a picture of the same size."""
    widths = {i["width"] for i in images}
    assert len(widths) == 1 and widths.pop() > model_input, (model_input, images)


def expect_maps(page: Page, labels: list[str], model_input: int) -> None:
    """The image plus one decoded map per label, each map's alt text naming its method and describing it."""
    images = shown_images(page)
    assert len(images) == 1 + len(labels), images
    assert all(i["alt"].strip() and i["width"] > 0 for i in images), images
    expect_sharp(images, model_input)
    map_alts = [i["alt"] for i in images[1:]]
    for label in labels:
        assert any(alt.startswith(f"{label}: ") and len(alt) > len(label) + 2 for alt in map_alts), (label, map_alts)


def own_origin(url: str, server_url: str) -> bool:
    """The study's own server, or an address that needs no network (data:, blob:, about:)."""
    return url.split(":", 1)[0] in ("data", "blob", "about") or urlsplit(url).netloc == urlsplit(server_url).netloc


def addresses_in_page(page: Page) -> list[str]:
    """Every address the page and its frames refer to: icons, stylesheets, scripts, pictures, frames."""
    script = ("() => [...document.querySelectorAll('link[href], script[src], img[src], iframe[src], source[src]')]"
              ".map(e => e.href || e.src)")
    return [u for frame in page.frames for u in frame.evaluate(script)]


def answer_pre_questionnaire(page: Page, pages: Pages, study) -> None:
    wait_text(page, "A few questions about you", STEP_MS)
    for q in study.pre_questionnaire:
        label = q.text + ("" if q.required else " (optional)")
        if q.kind == "choice":
            choose(page, label, q.options[0])
        elif q.kind == "likert":
            choose(page, label, str(q.high))
        else:
            page.get_by_label(label).fill("demo run")
    pages.shot("pre_questionnaire")
    click(page, "Continue")


def answer_rate_trial(page: Page, pages: Pages, image: int, total: int, method_labels: list[str],
                      n_predictions: int, model_input: int, document: str | None = None) -> None:
    wait_text(page, f"Image {image} of {total}", STEP_MS)
    wait_text(page, "Do you trust this prediction?", STEP_MS)
    expect(page.get_by_text("The model's top predictions:")).to_be_visible(timeout=STEP_MS)
    expect(page.locator("[data-testid='stMarkdownContainer'] ol li")).to_have_count(n_predictions,
                                                                                   timeout=STEP_MS)
    assert len(shown_images(page)) == 1  # the image alone: no explanation before the trust answer
    pages.shot(f"trial_{image}_trust")
    choose(page, "Do you trust this prediction?", str(1 + image % 5))
    click(page, "Continue")

    wait_text(page, "did this explanation help or confuse", STEP_MS)
    expect(page.get_by_text(f"Image {image} of {total}")).to_be_visible(timeout=STEP_MS)
    expect_maps(page, method_labels, model_input)
    pages.shot(f"trial_{image}_explanations")
    for j, label in enumerate(method_labels):
        choose(page, f"{label}: did this explanation help or confuse", EFFECT_CHOICES[(image + j) % 3])
    page.get_by_label("Comment (optional)").fill(f"Demo run, image {image}.")
    if document:
        doc_shot(page, document)
    click(page, "Continue")


def answer_verification_trial(page: Page, pages: Pages, image: int, total: int, method_labels: list[str],
                              model_input: int, document: str | None = None,
                              panels: dict[str, str] | None = None) -> bool:
    """One verification trial (pet photos or MRI slices); an attention check is answered as it asks. Returns
    whether it was the check. ``panels``: panel label -> the README screenshot of the first trial showing it
    (taken once: the entry is removed)."""
    wait_text(page, f"Image {image} of {total}", STEP_MS)
    wait_text(page, "Is the model's prediction correct?", STEP_MS)
    images = shown_images(page)
    assert len(images) == 2 and all(i["alt"].strip() for i in images), images  # the image and one explanation
    label = next((lab for lab in method_labels if images[1]["alt"].startswith(f"{lab}: ")), None)
    assert label is not None, images
    panel_shot = (panels or {}).pop(label, None)
    if panels is not None and label in PANEL_LABELS:  # a panel: photos or a chart at the column's width
        assert images[1]["width"] >= 600 and len(images[1]["alt"]) > len(label) + 30, images  # described
    else:
        expect_sharp(images, model_input)
    check = page.get_by_text(re.compile(r"Attention check: please choose “"))
    is_check = check.count() > 0
    if is_check:  # the prompt quotes the option as its radio button reads it
        quoted = re.search(r"choose “([^”]+)”", check.first.inner_text()).group(1)
        decision = next(value for value, label in DECISIONS.items() if label == quoted)
    else:
        decision = "accept" if image % 2 else "reject"
    pages.shot(f"trial_{image}_verification" + ("_attention_check" if is_check else ""))
    choose(page, "Is the model's prediction correct?", DECISIONS[decision])
    choose(page, "How confident are you?", "4")
    if document and not is_check:
        doc_shot(page, document)
    if panel_shot and not is_check:
        doc_shot(page, panel_shot)
    click(page, "Continue")
    return is_check


def choose_in_selectbox(page: Page, label: str, option: str) -> None:
    box = page.get_by_role("combobox", name=label)
    box.click()
    page.get_by_role("option", name=option, exact=True).click()
    expect(box).to_have_value(option, timeout=STEP_MS)


def answer_post_questionnaire(page: Page, questions: list[dict]) -> None:
    wait_text(page, "Your overall impressions", STEP_MS)
    for q in questions:
        label = q["text"] + ("" if q.get("required", True) else " (optional)")
        if q["kind"] == "choice":
            choose(page, label, q["options"][-1])
        elif q["kind"] == "likert":
            choose(page, label, str(q["low"]))
        elif q["kind"] == "rank":
            for place, option in zip(("1st", "2nd", "3rd"), q["options"], strict=False):
                choose_in_selectbox(page, f"{place} place", option)
        else:
            page.get_by_label(label).fill("The maps disagreed more often than I expected.")


def visit_researcher_area(page: Page, server: StreamlitServer) -> None:
    """What the README tells a new user: open /researcher, type the one-time password from the server log."""
    found = sorted(set(ONE_TIME_PASSWORD.findall(server.log_text())))  # printed and logged: the same line twice
    assert len(found) == 1, "one one-time password per server run, in its log after the first visit"
    page.goto(f"{server.url}/researcher")
    wait_text(page, "Researcher area", FIRST_LOAD_MS)
    wait_text(page, "the one-time researcher password is printed in the server log", STEP_MS)
    field = page.get_by_label("Researcher password")
    field.fill(found[0])
    field.press("Enter")
    wait_text(page, "Readiness check", STEP_MS)
    wait_text(page, "Ready to launch", STEP_MS)
    doc_shot(page, "researcher_readiness")
    page.get_by_test_id("stSidebar").get_by_role("link", name="Progress").click()
    wait_text(page, "Per condition", STEP_MS)
    doc_shot(page, "researcher_progress")


def stored_plan(setup: E2EStudy) -> dict:
    """The one participant's plan as the engine stored it at consent (their post-questionnaire is in it)."""
    repo, record = open_repository(setup)
    try:
        (participant,) = repo.participants(record.id)
        return json.loads(repo.plan_json(participant.id))
    finally:
        repo.dispose()


@pytest.fixture
def fresh_clone_env(monkeypatch) -> None:
    """A fresh clone's configuration: no study file, cache folder or password from this shell or secrets."""
    for name in ("XAI_STUDY_FILE", "XAI_STUDY_CACHE", "XAI_STUDY_RESEARCHER_PASSWORD"):
        monkeypatch.delenv(name, raising=False)
    from study_app.settings import BUNDLED_DEMO, read_secrets_file, resolve_settings  # noqa: PLC0415

    settings = resolve_settings(read_secrets_file(PROJECT_ROOT / ".streamlit" / "secrets.toml"), env={})
    if settings.source != BUNDLED_DEMO:
        message = f"a local .streamlit/secrets.toml selects {settings.study_file}, not the bundled demo"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.mark.usefixtures("fresh_clone_env")
def test_bundled_demo_runs_end_to_end_from_a_fresh_clone(chromium, tmp_path):
    from study_app.study import load_study  # noqa: PLC0415
    from study_app.study.protocols import protocol_of  # noqa: PLC0415

    study = load_study(DEMO_STUDY, check_images=False)
    rate = [t for t in study.tasks if t.protocol == "rate"]
    verification = [t for t in study.tasks if t.protocol == "verification"]
    decision = [t for t in study.tasks if t.protocol == "decision"]
    assert [t.name for t in study.tasks] == [t.name for t in rate + verification + decision]
    assert study.completion_code == "XAIDEMO"
    method_labels = [m.label for m in study.methods]
    assert method_labels == ["LIME", "Kernel SHAP", "Grad-CAM", *PANEL_LABELS]
    rate_labels = [m.label for m in study.task_methods(rate[0])]
    panel_shots = {"Similar photos": "participant_similar_examples_trial", "Concepts": "participant_concepts_trial"}
    total = sum(t.trials + t.learning_trials + t.attention_checks for t in study.tasks)
    expected_rows = sum(trial_steps_per_task(t) for t in study.tasks)

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    cache_before, stray_before = snapshot(DEMO_CACHE), snapshot(STRAY_CACHE)
    assert cache_before, "demo/cache/ is empty: the committed attribution cache is missing"
    setup = E2EStudy(study_file=DEMO_STUDY, db_path=tmp_path / "responses.sqlite", cache_dir=DEMO_CACHE)
    assert not setup.db_path.exists()
    env = {"XAI_STUDY_DB_URL": setup.db_url}  # the only setting: a fresh, empty database

    log = ARTIFACTS / "server.log"
    with StreamlitServer(env, log) as server:
        # The server warms up before it answers (the study, models and maps), and makes the demo's one-time
        # password then: it is in the log before anyone opened a page.
        assert ONE_TIME_PASSWORD.search(server.log_text())
        context = chromium.new_context(viewport={"width": 1280, "height": 2000})
        page = context.new_page()
        page.set_default_timeout(STEP_MS)
        dialogs: list[str] = []
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        requested: list[str] = []  # every request of the walk, frames and components included
        context.on("request", lambda r: requested.append(r.url))
        pages = Pages(page, ARTIFACTS)
        checks_seen = 0
        try:
            page.goto(server.url)  # exactly what a new user opens: no query parameters
            wait_text(page, study.title, FIRST_LOAD_MS)
            wait_text(page, "This is the demo study", FIRST_LOAD_MS)
            pages.shot("consent")
            click(page, "I agree — start the study")

            answer_pre_questionnaire(page, pages, study)
            wait_text(page, "How this works", STEP_MS)
            wait_text(page, "A worked example", STEP_MS)
            assert all(i["alt"].strip() for i in shown_images(page))
            pages.shot("instructions")
            click(page, "I understand — begin")

            image = 0
            for task in rate:  # the demo's rate task has no attention check (asserted by the row counts)
                for _ in range(task.trials):
                    image += 1
                    answer_rate_trial(page, pages, image, total, rate_labels,
                                      n_predictions=min(3, len(task.class_names)),  # top 3 of 2 classes: 2
                                      model_input=input_size(task),
                                      document="participant_rate_trial" if image == 1 else None)
            document = "participant_verification_trial"  # the first MRI trial that is not an attention check
            for task in verification:
                for _ in range(task.trials + task.learning_trials + task.attention_checks):
                    image += 1
                    pets = task.name == "pets-kinds"
                    is_check = answer_verification_trial(page, pages, image, total, method_labels,
                                                         input_size(task), None if pets else document,
                                                         panel_shots if pets else None)
                    checks_seen += is_check
                    document = document if (is_check or pets) else None
            assert checks_seen == sum(t.attention_checks for t in verification)
            assert not panel_shots, f"no trial showed {sorted(panel_shots)}"  # each panel arm shown once
            for task in decision:  # own answer, the arm's advice, final answer (the human arm: one answer)
                arms_seen = []
                for _ in range(task.trials):
                    image += 1
                    wait_text(page, f"Image {image} of {total}", STEP_MS)
                    shown = answer_decision_trial(page, task.class_label(task.class_names[image % len(task.class_names)]),
                                                  timeout=STEP_MS)
                    arms_seen.append((len(shown["phases"]), shown["prediction"], shown["maps"]))
                assert sorted(arms_seen) == [(1, False, 0), (2, True, 0), (2, True, 1), (2, True, 1)], arms_seen

            answer_post_questionnaire(page, stored_plan(setup)["post_questions"])
            pages.shot("post_questionnaire")
            click(page, "Continue")

            wait_text(page, "Thank you!", STEP_MS)
            wait_text(page, study.completion_code, STEP_MS)
            expect(page.locator("[data-testid='stCode']")).to_contain_text(study.completion_code, timeout=STEP_MS)
            pages.shot("done")
            wait_settled(page)
            assert "Traceback" not in page.content()
            referenced = addresses_in_page(page)  # the page icon too: Chromium fetches icons unreported
            visit_researcher_area(page, server)
            assert not dialogs, dialogs
            foreign = sorted({u for u in requested + referenced if not own_origin(u, server.url)})
            assert requested and not foreign, f"third-party requests from a participant's browser: {foreign}"
        except BaseException:
            with contextlib.suppress(Exception):
                pages.shot("failure")
            raise
        finally:
            context.close()
    server_log = server.log_text()
    assert "Traceback" not in server_log, server_log[-4000:]

    # Every map came from the committed cache: nothing was added, changed or computed elsewhere.
    rebuild = "maps were computed live; rebuild the cache: xai-study precompute --study demo/study.toml"
    assert snapshot(DEMO_CACHE) == cache_before, rebuild
    assert snapshot(STRAY_CACHE) == stray_before, rebuild

    repo, record = open_repository(setup)
    try:
        participants = repo.participants(record.id)
        responses = list(repo.responses(record.id))
        questionnaire = repo.questionnaire_answers(record.id)
        events = [e.kind for e in repo.events(record.id)]
        plan = json.loads(repo.plan_json(participants[0].id))
    finally:
        repo.dispose()
    assert [p.status for p in participants] == ["completed"]
    assert participants[0].completed_at is not None

    assert len(plan["trial_steps"]) == expected_rows
    assert len(responses) == expected_rows
    assert {r.participant_id for r in responses} == {participants[0].id}
    by_task = {t.name: sum(r.task == t.name for r in responses) for t in study.tasks}
    assert by_task == {t.name: trial_steps_per_task(t) for t in study.tasks}
    assert sorted({r.trial_index for r in responses}) == list(range(total))
    checks = [r for r in responses if r.is_attention_check]
    assert len(checks) == sum(t.attention_checks for t in study.tasks)
    assert all(r.attention_passed for r in checks)
    assert all(r.response_time_ms is not None and r.response_time_ms >= 0 for r in responses)
    explanation_answers = [r.answer for r in responses if r.phase == "explanation"]
    assert len(explanation_answers) == sum(t.trials for t in rate)
    assert all(len(a["effect"]) == len(rate_labels) and a.get("comment") for a in explanation_answers)

    pre = {q.question_id for q in questionnaire if q.questionnaire == "pre"}
    post = {q.question_id for q in questionnaire if q.questionnaire == "post"}
    assert pre == {q.id for q in study.pre_questionnaire}
    assert post == {q["id"] for q in plan["post_questions"]}
    rate_arms = study.task_arms(rate[0]) if rate else ()  # the closing questions ask about the rate task's methods
    closing = {q.id for q in protocol_of("rate").post_questions(study, rate_arms)} if rate else set()
    assert post == {q.id for q in study.post_questionnaire} | closing
    assert "method_rank" in post and {f"trust_{k}" for k in rate_arms} <= post  # the seed's closing questions
    assert events[0] == "consent" and events[-1] == "completion"
