"""A German study walked in Chromium, every protocol, every page: no English may be left on any of them.

The rehearsal found English on German pages: the model's class names ("Das Modell sagt **dog** vorher"),
Streamlit's own texts ("Fullscreen" on every picture, "Skip to main content", the connection-error dialog),
``lang="en"`` on the page. One study holds a task of each protocol (rate side by side, verification, forward
simulation, distinction, decision), written in German by its researcher (consent, instructions, a
comprehension question, the class names through ``class_labels``). On every page the test reads what a
participant and a screen reader get: the visible text, and every aria-label, title, placeholder and alt text.
It fails on any English message of the app (every catalogue message whose German differs, by its literal
parts), any of Streamlit's texts the app translates (:data:`study_app.ui.page_language.STREAMLIT_TEXTS`), a
class name where its German label belongs, and a page whose ``<html lang>`` is not ``de``. At the end the
server stops, and the connection-error dialog must be German too.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect
from study.kit import DECISION_EXTRA, TASK, make_checkpoint, make_stimuli, write_study

from e2e.axe import audit, axe_source, describe, serious
from e2e.browser_steps import wait_settled
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import E2EStudy, open_repository, precompute, server_env
from study_app.i18n import read_catalog, translator
from study_app.ui.page_language import STREAMLIT_TEXTS

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "german_walk"
PAGE_MS = 60_000
DE = translator("de")
LABELS = {"cat": "Katze", "dog": "Hund"}
GERMAN_TEXTS = """
language = "de"
consent = "Sie erklären sich mit der Teilnahme einverstanden."
instructions = "Beantworten Sie jede **Frage** so gut Sie können."
"""
COMPREHENSION = """
[[comprehension]]
id = "karten"
text = "Was zeigen die Karten?"
options = ["Worauf sich das Modell stützt", "Wo das Tier ist"]
correct = "Worauf sich das Modell stützt"
"""
INSTRUMENTS = "".join(f'\n[[post_questionnaire]]\ninstrument = "{name}"\n' for name in ("jian_trust", "nasa_tlx", "sus"))
CLASS_LABELS = 'class_labels = { cat = "Katze", dog = "Hund" }'
TASKS = {  # protocol -> (trials, task fields beyond the kit's)
    "rate": (2, 'display = "side_by_side"'),
    "verification": (2, ""),
    "forward_simulation": (2, "learning_trials = 2"),
    "distinction": (2, "k = 2"),
    "decision": (4, DECISION_EXTRA),
}


def english_fragments() -> list[str]:
    """The literal parts of every app message whose German differs (split at placeholders and Markdown), long
    enough not to be a German word too (two words, or one of at least eight letters), and found in no German
    translation ("optional" is German as well)."""
    out, german = set(), " ".join(m.string for m in read_catalog("de") if isinstance(m.string, str))
    for m in read_catalog("de"):
        english = m.id if isinstance(m.id, str) else m.id[0]
        if not m.id or not m.string or DE.gettext(english) == english:
            continue
        for part in re.split(r"\{\w*\}|\*\*|[“”'\"()]", english):
            part = part.strip(" .,:;!?—–-\n")
            if (len(part.split()) >= 2 or len(part) >= 8) and part not in german:
                out.add(part)
    return sorted(out)


COLLECT_JS = """() => {
  const attrs = [];
  for (const el of document.querySelectorAll('*')) {
    for (const name of ['aria-label', 'title', 'placeholder', 'alt']) {
      const v = el.getAttribute(name);
      if (v && v.trim()) attrs.push(v.trim());
    }
  }
  const texts = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) if (n.nodeValue.trim()) texts.push(n.nodeValue.trim());
  return {lang: document.documentElement.lang, text: document.body.innerText, attrs, texts};
}"""


def english_on(page: Page, fragments: list[str]) -> list[str]:
    """What is English on the page now (empty: nothing), each with where it was found."""
    seen = page.evaluate(COLLECT_JS)
    found = []
    if seen["lang"] != "de":
        found.append(f'<html lang="{seen["lang"]}">')
    readable = [seen["text"], *seen["attrs"]]
    found += [f"app message {f!r}" for f in fragments if any(f in r for r in readable)]
    exact = set(seen["texts"]) | set(seen["attrs"])
    found += [f"Streamlit text {s!r}" for s in STREAMLIT_TEXTS if s in exact or s in seen["text"].splitlines()
              or any(a.startswith(f"{s}: ") for a in seen["attrs"])]  # a toolbar button: "Fullscreen: ..."
    found += [f"class name {w!r} in {r[:80]!r}" for r in readable for w in re.findall(r"\b(cat|dog)\b", r)]
    return found


def german_study(folder: Path) -> E2EStudy:
    checkpoint = make_checkpoint(folder / "checkpoints" / "tiny_resnet18")
    stimuli = make_stimuli(folder / "stimuli" / "pets")
    tasks = "".join(TASK.format(task=f"t-{protocol}", protocol=protocol, checkpoint=checkpoint.as_posix(),
                                stimuli=stimuli.as_posix(), trials=trials, checks=1, extra=f"{extra}\n{CLASS_LABELS}")
                    for protocol, (trials, extra) in TASKS.items())
    path = write_study(folder / "studies", "rate", checkpoint=checkpoint, stimuli=stimuli, sid="deutsch",
                       tasks=tasks, tail=COMPREHENSION + INSTRUMENTS)
    text = path.read_text(encoding="utf-8")
    text = re.sub(r'consent = ".*"\ninstructions = ".*"\n', GERMAN_TEXTS.lstrip("\n"), text)
    path.write_text(text.replace("[study]\n", "[study]\nallow_phones = false\n", 1), encoding="utf-8")
    setup = E2EStudy(study_file=path, db_path=folder / "responses.sqlite", cache_dir=folder / "cache")
    precompute(setup)
    return setup


def answer_page(page: Page) -> None:
    """Answer what the page asks as a participant reading German would (an attention check as it says)."""
    prompt = page.get_by_text(re.compile("^" + re.escape(DE.gettext("Attention check: please choose "
                                                                    "{value} on the scale.").split(":")[0] + ":")))
    said = prompt.first.inner_text() if prompt.count() else ""
    quoted = re.search(r"„([^“]+)“", said)
    number = None if quoted else re.search(r"(\d+)", said)
    for group in page.get_by_role("radiogroup").all():
        options = [o.strip() for o in group.locator("label").all_inner_texts() if o.strip()]
        wanted = next((o for o in options if quoted and o == quoted.group(1)), None) or \
            next((o for o in options if number and o == number.group(1)), None) or options[0]
        group.get_by_text(wanted, exact=True).first.click()
    for i, box in enumerate(page.get_by_role("combobox").all()):  # a ranking: a different option per place
        box.click()
        page.get_by_role("option").nth(i).click()
    for area in page.locator("textarea").all():
        area.fill("Keine Anmerkungen.")


def press(page: Page) -> None:
    """The page's button onwards; then wait until the next page is drawn."""
    before = page.evaluate("() => document.body.innerText")
    for message in ("I agree — start the study", "I understand — begin", "Continue", "Next"):
        button = page.get_by_role("button", name=DE.gettext(message), exact=True)
        if button.count():
            button.first.click()
            page.wait_for_function("before => document.body.innerText !== before", arg=before, timeout=PAGE_MS)
            return
    raise AssertionError(f"no button to go on: {page.get_by_role('button').all_inner_texts()}")


def test_a_german_study_shows_no_english_on_any_page(chromium, tmp_path, capsys):
    """... and every German page passes the accessibility audit (axe-core, WCAG 2.2 A/AA: nothing serious)."""
    axe = axe_source()
    setup = german_study(tmp_path)
    fragments = english_fragments()
    assert "The model predicts" in fragments and "Attention check: please choose" in fragments
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, locale="de-DE")
    page = context.new_page()
    problems: dict[str, list[str]] = {}
    with StreamlitServer(server_env(setup, password=None), ARTIFACTS / "server.log") as server:
        page.goto(server.url)
        expect(page.get_by_text(DE.gettext("I agree — start the study")).first).to_be_visible(timeout=PAGE_MS)
        pages = 0
        for pages in range(1, 80):
            wait_settled(page, PAGE_MS)
            pictures = page.locator("[data-testid='stImage'] img")
            if pictures.count():  # a picture's toolbar ("Fullscreen") is drawn while the pointer is over it
                pictures.last.hover()
            page.wait_for_timeout(300)  # the language script's observer runs after Streamlit's own drawing
            violations = audit(page, axe)
            with capsys.disabled():  # listed in the test output
                for line in describe(f"German page {pages}", [v for v in violations if v not in serious(violations)]):
                    print("axe (not blocking):", line)
            found = english_on(page, fragments) + describe("axe", serious(violations))
            if found:
                page.screenshot(path=str(ARTIFACTS / f"page_{pages:02d}.png"), full_page=True)
                heading = page.evaluate("() => document.body.innerText.slice(0, 80)")
                problems[f"page {pages} ({heading!r})"] = found
            if page.get_by_text(DE.gettext("Thank you!")).count():
                break
            answer_page(page)
            press(page)
        assert page.get_by_text(DE.gettext("Thank you!")).count(), "the walk never reached the end page"
        assert pages > 20, pages
        server.kill()  # the connection drops: Streamlit's dialog must speak German as well
        dialog = page.get_by_role("dialog")
        expect(dialog).to_be_visible(timeout=PAGE_MS)
        page.wait_for_timeout(500)
        found = english_on(page, fragments)
        if found:
            problems["connection-error dialog"] = found
        expect(dialog.get_by_text(DE.gettext("Connection error"))).to_be_visible(timeout=PAGE_MS)
    context.close()
    assert not problems, "\n".join(f"{where}: {found}" for where, found in problems.items())
    repo, record = open_repository(setup)
    try:
        completed = [p for p in repo.participants(record.id) if p.status == "completed"]
        assert len(completed) == 1, "the walk finished the study"
    finally:
        repo.dispose()
