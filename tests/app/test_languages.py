"""Participant pages in each shipped language, walked in AppTest through a translator that records every
message missing from the chosen catalogue: a page that shows such a string fails the test. German pages must
also show no English text our code supplies (an element whose whole text is an English message, or a
message with its fields filled in, was not translated)."""

from __future__ import annotations

import re

import pytest
import streamlit as st

from app.drive import new_app
from study_app import i18n
from study_app.explain.render import REGIONS
from study_app.i18n import Translator, available_languages, read_catalog, translator
from study_app.study.steps import DECISION_LABELS, EFFECT_LABELS
from study_app.ui.explanation_maps import REGION_NAMES

PROTOCOLS = ["rate", "verification", "forward_simulation", "distinction"]
GERMAN_CONSENT = "Sie erklären sich mit der Teilnahme einverstanden."


@pytest.fixture
def recorded(monkeypatch) -> list[str]:
    """Every translator the app asks for records the messages its catalogue lacks."""
    missing: list[str] = []
    fresh = {lang: Translator(lang, read_catalog(lang), on_missing=missing.append) for lang in available_languages()}
    monkeypatch.setattr(i18n, "_translators", fresh)
    return missing


def study_in(setup_study, language: str, protocol: str, **options):
    setup = setup_study(protocol, checks=1, **options)
    text = setup.study_file.read_text()
    text = text.replace("[study]\n", f'[study]\nlanguage = "{language}"\nallow_phones = false\n', 1)
    if language == "de":  # the researcher writes the study's own texts in the study's language
        text = text.replace('consent = "You agree to take part."', f'consent = "{GERMAN_CONSENT}"')
        text = text.replace('instructions = "Answer each **question**."',
                            'instructions = "Beantworten Sie jede **Frage**."')
    setup.study_file.write_text(text)
    return setup


def shown_texts(at) -> list[str]:
    """Every piece of text the participant can read on the page, element by element."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    for widget in [*at.radio, *at.selectbox, *at.checkbox, *at.text_area, *at.number_input, *at.button]:
        parts.append(widget.label)
        parts += [str(o) for o in getattr(widget, "options", [])]
        if getattr(widget, "help", ""):
            parts.append(widget.help)
    parts += [e.label for e in at.expander]
    for kind in ("progress", "link_button", "spinner"):
        for e in at.get(kind):
            proto = e.proto
            parts += [getattr(proto, name) for name in ("text", "label", "placeholder") if getattr(proto, name, "")]
    parts += [sb.proto.placeholder for sb in at.selectbox if sb.proto.placeholder]
    parts += image_alts(at)
    return [p for p in parts if p]


def image_alts(at) -> list[str]:
    """The alt text of every picture on the page (what a screen reader reads the participant)."""
    return [i.alt for e in at.get("image") for i in e.proto.imgs if i.HasField("alt")]


def _pattern(message: str) -> re.Pattern:
    return re.compile(re.sub(r"\\\{\w+\\\}", ".+", re.escape(message)), re.DOTALL)


ENGLISH = [(m.id if isinstance(m.id, str) else m.id[0]) for m in read_catalog("en") if m.id]


def english_leftovers(page: list[str], t: Translator) -> list[str]:
    """Elements showing an English message that this language translates differently."""
    patterns = [_pattern(m) for m in ENGLISH if t.gettext(m) != m]
    return [s for s in page if any(p.fullmatch(s) for p in patterns)]


class Walker:
    """Answers the participant pages in language ``t``, recognising them by their translated labels.
    ``pages`` keeps the text of every page seen (AppTest shows only the latest run)."""

    def __init__(self, at, t: Translator):
        self.at, self.t, self.pages = at, t, []
        self.raw = {t.gettext(label): value for mapping in (DECISION_LABELS, EFFECT_LABELS)
                    for value, label in mapping.items()}

    def kind(self) -> str:
        at, t = self.at, self.t
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        if any(b.label == t.gettext("I agree — start the study") for b in at.button):
            return "consent"
        if any(e.value == t.gettext("Thank you!") for e in at.title):
            return "done"
        if any(h.value == t.gettext("Instructions") for h in at.header):
            return "instructions"
        prefix = t.gettext("Image {number} of {total}").split("{")[0]
        if any(s.value.startswith(prefix) for s in at.subheader):
            return "trial"
        assert at.header, "\n".join(shown_texts(at))
        return "questionnaire"

    def click(self, message: str) -> None:
        label = self.t.gettext(message)
        button = next((b for b in self.at.button if b.label == label), None)
        assert button is not None, f"no button {label!r}: {[b.label for b in self.at.button]}"
        self.at = button.click().run()

    def fill(self) -> None:
        at = self.at
        groups: dict[str, list] = {}
        for sb in at.selectbox:
            groups.setdefault(sb.key.rsplit("#", 1)[0], []).append(sb)
        for boxes in groups.values():
            for i, sb in enumerate(boxes):
                sb.set_value(sb.options[i])
        for radio in at.radio:
            shown = radio.options[0]
            radio.set_value(self.raw.get(shown, int(shown) if shown.lstrip("-").isdigit() else shown))
        for ni in at.number_input:
            ni.set_value(ni.min if ni.min is not None else 1)
        for ta in at.text_area:
            ta.input("gut")

    def submit(self) -> None:
        for message in ("Continue", "Next"):
            if any(b.label == self.t.gettext(message) for b in self.at.button):
                return self.click(message)
        raise AssertionError([b.label for b in self.at.button])

    def keep(self) -> None:
        self.pages.append(shown_texts(self.at))

    def step(self) -> str:
        kind = self.kind()
        self.keep()
        if kind == "consent":
            self.click("I agree — start the study")
        elif kind == "instructions":
            self.click("I understand — begin")
        elif kind != "done":
            if kind == "questionnaire" and len(self.pages) == 2:  # once: the notice for a missing answer
                self.submit()
                assert self.at.warning and self.t.gettext("Please answer: {missing}").split("{")[0] in \
                    self.at.warning[0].value
                self.keep()
            self.fill()
            self.submit()
        return kind

    def to_end(self, max_steps: int = 40) -> list[str]:
        seen = []
        for _ in range(max_steps):
            seen.append(self.step())
            if seen[-1] == "done":
                return seen
        raise AssertionError(seen)


def check_pages(walker: Walker, recorded: list[str]) -> None:
    assert not recorded, f"shown but missing from the {walker.t.language} catalogue: {sorted(set(recorded))}"
    if walker.t.language != "en":
        leftovers = {s for page in walker.pages for s in english_leftovers(page, walker.t)}
        assert not leftovers, f"English on a {walker.t.language} page: {sorted(leftovers)}"


@pytest.mark.parametrize("language", available_languages())
@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_participant_page_comes_from_the_chosen_catalogue(setup_study, recorded, language, protocol):
    options = {"rate": {"display": "side_by_side"}, "forward_simulation": {}}.get(protocol, {})
    study_in(setup_study, language, protocol, **options)
    walker = Walker(new_app().run(), translator(language))
    seen = walker.to_end()
    assert seen[0] == "consent" and seen[-1] == "done" and "trial" in seen
    check_pages(walker, recorded)
    if language == "de":
        consent, end = walker.pages[0], walker.pages[-1]
        assert "Ich stimme zu – Studie beginnen" in consent
        assert GERMAN_CONSENT in consent, "the researcher's consent text as written"
        assert "Für diese Studie benötigen Sie einen Computer oder ein Tablet (kein Smartphone)." in consent
        assert "Vielen Dank!" in end and "Zurück zu Prolific, um den Abschluss zu bestätigen" in end
        trial = next(page for page in walker.pages if any(s.startswith("Bild 1 von ") for s in page))
        assert any(s.startswith("Fortschritt: Schritt ") for s in trial)
        assert "Weiter" in trial


def test_map_descriptions_and_the_tab_title_follow_the_study_language(setup_study, recorded, monkeypatch):
    """A German study's maps are described in German to screen readers, and the tab says "Studie" (both were
    English: the alt text came from the renderer, the title from the router)."""
    titles: list[str] = []
    real = st.set_page_config
    monkeypatch.setattr(st, "set_page_config", lambda **kw: (titles.append(kw.get("page_title")), real(**kw))[1])
    study_in(setup_study, "de", "rate")
    walker = Walker(new_app().run(), translator("de"))
    for _ in range(12):  # consent, questionnaire, instructions, then trial screens until one shows maps
        if walker.kind() == "trial" and len(image_alts(walker.at)) > 1:
            break
        assert walker.step() != "done", "no trial screen showed a map"
    map_alts = image_alts(walker.at)[1:]
    assert map_alts and all(re.fullmatch(r".+: .+-Karte: (Die stärksten Hinweise liegen im Bereich „(oben|unten|Mitte"
                                         r"|links|rechts| )+“ des Bildes und bedecken etwa \d+ % davon\. Die Karte "
                                         r"erklärt \w+\.|Kein Bereich spricht für \w+\.)( Einige Bereiche sprechen "
                                         r"gegen die Klasse\.)?", alt) for alt in map_alts), map_alts
    assert titles[-1] == "Studie", titles
    check_pages(walker, recorded)


def test_every_region_a_map_can_name_has_a_translatable_name():
    assert set(REGION_NAMES) == {name for row in REGIONS for name in row}


@pytest.mark.parametrize("language", available_languages())
def test_declining_withdrawing_and_the_return_notice_come_from_the_catalogue(setup_study, recorded, language):
    setup = study_in(setup_study, language, "verification")
    setup.study_file.write_text(setup.study_file.read_text().replace(
        "redirect_seconds = 0", 'redirect_seconds = 1\nno_consent_code = "NO-CONSENT-1"'))
    t = translator(language)
    walker = Walker(new_app().run(), t)
    walker.click("I do not agree")
    walker.keep()
    assert [e.value for e in walker.at.title] == [t.gettext("Thank you")]
    expected = t.ngettext("You will be returned to Prolific in {seconds} second. If nothing happens, use the "
                          "button below.", "You will be returned to Prolific in {seconds} seconds. If nothing "
                          "happens, use the button below.", 1).format(seconds="1")
    assert expected in [m.value for m in walker.at.markdown], "the singular form for one second"
    walker.click("Start again")
    for _ in range(3):  # consent, questionnaire, instructions: now on a trial with the withdrawal offer
        walker.step()
    walker.keep()
    walker.click("Withdraw from the study")
    walker.at.checkbox[0].check().run()
    walker.click("Withdraw and delete my answers")
    walker.keep()
    assert [e.value for e in walker.at.title] == [t.gettext("You have withdrawn")]
    check_pages(walker, recorded)
