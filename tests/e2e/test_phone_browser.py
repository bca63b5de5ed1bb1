"""Every participant page of every protocol, on a phone: it works by touch at 360 CSS px, and it passes the
accessibility audit.

Each offline example (one per protocol, the one with validated questionnaires, and the similar examples' one) is
served with
``allow_phones = true`` and walked by the simulator's participant tapping, in a 360 × 740 touch viewport with a
phone's user agent. Every page is measured before it is answered:

* no horizontal scrolling (the document is no wider than the window);
* pictures stacked (no two side by side) and inside the screen (none reaching past its edge: a container may
  cut off what does not fit without any scrolling);
* every control at least 44 × 44 CSS px where a finger meets it (a radio option or check box: its label; a
  drop-down: its box; WCAG 2.5.5);
* **axe-core** (WCAG 2.2 A and AA, :mod:`e2e.axe`): no violation of impact serious or critical; the others are
  printed. The German pages are audited along the German walk (``test_german_walk_browser.py``) at desktop
  width, the researcher pages along the researcher walk (``test_researcher_browser.py``).

At the end the export has the viewport and the touch screen per trial and per participant, so that analyses
can compare devices.
"""

from __future__ import annotations

import random

import pytest

from e2e.axe import audit, axe_source, describe, serious
from e2e.streamlit_server import PROJECT_ROOT, StreamlitServer
from e2e.study_setup import E2E_PASSWORD, offline_example_copy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "phone"
EXAMPLES = ["rate", "forward_simulation", "verification", "distinction", "decision", "instruments",
            "similar_examples"]  # and a study of panels: per-class similar examples (the demo walk shows the others)
PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True,
         "user_agent": "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
                       "Chrome/126.0.0.0 Mobile Safari/537.36"}
TOUCH_PX = 44

MEASURE_JS = """(touch) => {
  const main = document.querySelector('[data-testid="stMain"]');
  const small = [];
  const controls = 'button, a[href], textarea, input[type="radio"], input[type="checkbox"], [role="combobox"]';
  for (const el of main.querySelectorAll(controls)) {
    if (el.closest('[aria-hidden="true"], [inert]')) continue;  // never met (the bot-signal item)
    // what a finger meets: a radio option's or check box's label, a drop-down's whole box
    const target = (el.type === 'radio' || el.type === 'checkbox') ? (el.closest('label') || el)
      : el.getAttribute('role') === 'combobox' ? (el.closest('[data-testid="stSelectbox"] > div') || el) : el;
    const r = target.getBoundingClientRect();
    const style = getComputedStyle(target);
    if (r.width === 0 || r.height === 0 || style.visibility === 'hidden') continue;
    if (r.width < touch - 0.5 || r.height < touch - 0.5) {
      const name = (el.getAttribute('aria-label') || target.innerText || el.type || el.tagName).trim().slice(0, 40);
      small.push(`${name} (${Math.round(r.width)} x ${Math.round(r.height)})`);
    }
  }
  const pictures = Array.from(main.querySelectorAll('img')).map(i => i.getBoundingClientRect())
    .filter(r => r.width > 40 && r.height > 40);
  const cut = pictures.filter(r => r.left < -0.5 || r.right > window.innerWidth + 0.5).length;
  let beside = 0;
  for (let i = 0; i < pictures.length; i++) for (let j = i + 1; j < pictures.length; j++) {
    const a = pictures[i], b = pictures[j];
    if (a.top < b.bottom - 4 && b.top < a.bottom - 4) beside++;
  }
  return {overflow: document.documentElement.scrollWidth - window.innerWidth, small, beside, cut, pictures: pictures.length,
          heading: (main.querySelector('h1, h2, h3') || main).innerText.trim().slice(0, 40)};
}"""


@pytest.fixture(scope="module")
def axe() -> str:
    return axe_source()


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_protocol_works_on_a_phone_by_touch_and_passes_axe(example, chromium, axe, clean_settings, capsys):
    from study_app.export.export_cli import export_from_file  # noqa: PLC0415
    from study_app.simulate.browser_walk import walk_one  # noqa: PLC0415

    tmp_path = clean_settings
    study = offline_example_copy(example, tmp_path, study_lines="allow_phones = true")
    db_url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    env = {"XAI_STUDY_FILE": str(study), "XAI_STUDY_RESEARCHER_PASSWORD": E2E_PASSWORD, "XAI_STUDY_DB_URL": db_url}
    measured: list[dict] = []
    audited: list[tuple[str, list[dict]]] = []
    folder = ARTIFACTS / example
    folder.mkdir(parents=True, exist_ok=True)

    def measure(page) -> None:
        measured.append(page.evaluate(MEASURE_JS, TOUCH_PX))
        audited.append((f"page {len(measured)} ({measured[-1]['heading']!r})", audit(page, axe)))
        if len(measured) in (1, 4):  # the consent page and a trial, for the eye
            page.screenshot(path=str(folder / f"page_{len(measured):02d}.png"), full_page=True)

    with StreamlitServer(env, folder / "server.log") as server:
        context = chromium.new_context(**PHONE)
        try:
            walk = walk_one(context.new_page(), server.url, random.Random(5), on_page=measure, tap=True)
        finally:
            context.close()
    assert walk.ended == "no more buttons", walk.stuck
    assert any(m["pictures"] for m in measured), "the trials' pictures were measured"
    problems = [f"page {i + 1} ({m['heading']!r}): " + "; ".join(
        ([f"{m['overflow']} px wider than the screen"] if m["overflow"] > 0 else [])
        + ([f"{m['beside']} pair(s) of pictures side by side"] if m["beside"] else [])
        + ([f"{m['cut']} picture(s) reaching past the screen's edge"] if m["cut"] else [])
        + ([f"small targets: {', '.join(m['small'][:6])}"] if m["small"] else []))
        for i, m in enumerate(measured) if m["overflow"] > 0 or m["beside"] or m["cut"] or m["small"]]
    assert not problems, "\n".join(problems)
    with capsys.disabled():
        for where, violations in audited:
            for line in describe(where, [v for v in violations if v not in serious(violations)]):
                print("axe (not blocking):", line)
    blocking = [line for where, violations in audited for line in describe(where, serious(violations))]
    assert not blocking, "\n".join(blocking)

    out = tmp_path / "responses.csv"
    export_from_file(study, out, db_url=db_url)
    import pandas as pd  # noqa: PLC0415 - heavy, only here

    trials, people = pd.read_csv(out), pd.read_csv(tmp_path / "participants.csv")
    assert set(trials["viewport_width"].dropna()) == {360} and trials["touch_screen"].dropna().all()
    assert people["viewport_width"].tolist() == [360] and people["touch_screen"].tolist() == [True]
