"""Drive the participant page in AppTest the way a participant would: read the step, answer, submit."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from app.conftest import MAIN
from study_app.ui.trial_forms import DECISION_LABELS, EFFECT_LABELS

_RAW = {label: value for mapping in (DECISION_LABELS, EFFECT_LABELS) for value, label in mapping.items()}

TIMEOUT = 60


def new_app(query: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(MAIN), default_timeout=TIMEOUT)
    for key, value in (query or {}).items():
        at.query_params[key] = value
    return at


def texts(at: AppTest) -> str:
    """All visible text of the page (titles, markdown, captions, alerts, labels), for assertions."""
    parts = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts += [str(e.value) for e in getattr(at, kind)]
    parts += [w.label for w in at.radio] + [w.label for w in at.selectbox]
    return "\n".join(parts)


def current_kind(at: AppTest) -> str:
    errors = [e.value for e in at.error] + [e.value for e in at.exception]
    assert not errors, f"the page shows an error: {errors}"
    labels = [b.label for b in at.button]
    headers = [h.value for h in at.header]
    if any(label.startswith("I agree") for label in labels):
        return "consent"
    if any(t.value == "Thank you!" for t in at.title):
        return "done"
    if "Instructions" in headers:
        return "instructions"
    if any(s.value.startswith("Image ") for s in at.subheader):
        return "trial"
    if headers:
        return "questionnaire"
    raise AssertionError(f"unrecognised page:\n{texts(at)}")


def click(at: AppTest, label_prefix: str) -> AppTest:
    for button in at.button:
        if button.label.startswith(label_prefix):
            return button.click().run()
    raise AssertionError(f"no button {label_prefix!r}; buttons: {[b.label for b in at.button]}")


def raw_option(shown: str):
    """The value behind a radio option as AppTest lists it (formatted text)."""
    if shown in _RAW:
        return _RAW[shown]
    return int(shown) if shown.lstrip("-").isdigit() else shown


def fill_form(at: AppTest, *, comment: str | None = None) -> None:
    """Answer every widget on the page: first option of each radio, a full ranking, a number, text."""
    ranks: dict[str, list] = {}
    for sb in at.selectbox:
        group = sb.key.rsplit("#", 1)[0]
        ranks.setdefault(group, []).append(sb)
    for boxes in ranks.values():
        for i, sb in enumerate(boxes):
            sb.set_value(sb.options[i])
    for radio in at.radio:
        radio.set_value(raw_option(radio.options[0]))
    for ni in at.number_input:
        ni.set_value(ni.min if ni.min is not None else 1)
    for ta in at.text_area:
        if "Comment" in ta.label and comment is not None:
            ta.input(comment)
        elif "Comment" not in ta.label:
            ta.input("fine")


def answer_step(at: AppTest, *, comment: str | None = None) -> AppTest:
    kind = current_kind(at)
    if kind == "consent":
        return click(at, "I agree")
    if kind == "instructions":
        return click(at, "I understand")
    fill_form(at, comment=comment)
    for label in ("Continue", "Next"):
        if any(b.label == label for b in at.button):
            return click(at, label)
    raise AssertionError(f"no submit button on {kind} page: {[b.label for b in at.button]}")


def run_to_end(at: AppTest, max_steps: int = 60, *, comment: str | None = None) -> list[str]:
    """Answer steps until the completion page; returns the kinds of the pages seen."""
    seen = [current_kind(at)]
    for _ in range(max_steps):
        assert not at.exception, [e.value for e in at.exception]
        if seen[-1] == "done":
            return seen
        answer_step(at, comment=comment)
        seen.append(current_kind(at))
    raise AssertionError(f"never reached the end: {seen}")
