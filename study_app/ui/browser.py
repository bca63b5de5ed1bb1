"""What only the participant's browser knows or can do, through Streamlit components (``st.components.v2``).

Three small components, each registered once per process:

* :func:`return_after` sends the browser on to an address after a pause (the end page's way back to
  Prolific; the page keeps a link as the fallback);
* :func:`viewport_width` reports the browser window's width (the device gate on consent); outside a form its
  first report reruns the page once;
* :func:`page_signals` counts how often and how long the page was hidden (Page Visibility API) or lost
  focus while a trial was on screen, and the step's bot and LLM-agent signals (pointer, keys, paste and typing
  cadence in free text, the hidden item for agents: :mod:`study_app.study.bot_signals`; also drawn in each
  questionnaire page's form). It is drawn *inside* the trial's form, so its counts travel with the
  submitted answer and cost no script run of their own. A reload starts its counts afresh, so
  :func:`keep_page_signals` draws a second copy outside the form, in a fragment, which reports only when a
  count or a closed duration changes (rare: one fragment run per change, no page run); the server keeps
  those per trial and page load (:func:`study_app.study.quality.keep_signals`) and adds the earlier loads'
  counts to the submitted ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from study_app.study.bot_signals import summarise
from study_app.study.quality import BROWSER_SIGNALS

_RETURN_JS = """
export default function(component) {
  const { data } = component;
  if (!data || !data.url) return;
  const timer = setTimeout(() => window.location.assign(data.url), Math.max(0, data.ms));
  return () => clearTimeout(timer);
}
"""

_WIDTH_JS = """
export default function(component) {
  const { setStateValue } = component;
  let last = null, timer = null;
  const report = () => {
    const width = Math.round(window.innerWidth);
    if (width !== last) { last = width; setStateValue('width', width); }
  };
  const later = () => { clearTimeout(timer); timer = setTimeout(report, 250); };
  report();
  window.addEventListener('resize', later);
  return () => { clearTimeout(timer); window.removeEventListener('resize', later); };
}
"""

# Hidden: document.visibilityState (tab switched, window minimised); blurred: the window lost focus (another
# window in front). Durations are closed at the moment of reporting, so a trial submitted while the page is
# still counted as away cannot happen (the participant clicked it).
# The script is a file of its own: benchmarks/reference_app.py draws the same one.
_SIGNALS_JS = (Path(__file__).parent / "page_signals.js").read_text(encoding="utf-8")


PAGE_LOAD = re.compile(r"[a-z0-9]{4,32}")  # the script's id of one page load (base 36)

_return = st.components.v2.component("xai_study.return_after", js=_RETURN_JS)
_width = st.components.v2.component("xai_study.viewport_width", js=_WIDTH_JS)
# Drawn into the page's own DOM (not a shadow root), so the hidden item for agents is where a DOM reader looks.
_signals = st.components.v2.component("xai_study.page_signals", js=_SIGNALS_JS, isolate_styles=False)


def return_after(url: str, seconds: float, key: str = "return_after") -> None:
    """Send the browser to ``url`` after ``seconds`` (the page stays as it is until then)."""
    _return(key=key, data={"url": url, "ms": int(seconds * 1000)})


def viewport_width(key: str = "viewport_width") -> int | None:
    """The browser window's width in CSS pixels, once the page has reported it (``None`` before)."""
    result = _width(key=key, on_width_change=lambda: None)
    width = getattr(result, "width", None)
    return int(width) if isinstance(width, int | float) else None


def page_signals(key: str) -> None:
    """Count hiding and focus loss from now until the enclosing form is submitted (draw inside the form)."""
    _signals(key=key, on_signals_change=lambda: None)


def keep_page_signals(key: str, keep: Callable[[dict, str], None]) -> None:
    """Hand the counts of this page load to ``keep(counts, page_load)`` whenever they change (draw outside
    any form, once per trial step)."""

    def changed() -> None:
        received = _received(key)
        if received is not None and received[1] is not None:
            keep(*received)

    st.fragment(lambda: _signals(key=key, data={"live": True, "trial": key}, on_signals_change=changed))()


def _raw(key: str) -> dict | None:
    """What a page-signals component sent, as sent."""
    state = st.session_state.get(key)
    raw = state.get("signals") if hasattr(state, "get") else None
    return raw if isinstance(raw, dict) else None


def _received(key: str) -> tuple[dict[str, int], str | None] | None:
    """The counts a page-signals component sent, as whole numbers, and its page load's id."""
    raw = _raw(key)
    if raw is None:
        return None
    out = {}
    for name in BROWSER_SIGNALS:
        value = raw.get(name)
        out[name] = int(value) if isinstance(value, int | float) and 0 <= value < 10**9 else 0
    load = raw.get("page_load")
    return out, load if isinstance(load, str) and PAGE_LOAD.fullmatch(load) else None


def submitted_signals(key: str) -> dict | None:
    """The counts :func:`page_signals` sent with the submitted form, as whole numbers, with their page load's
    id as ``page_load`` (``None``: the browser sent none, e.g. the form was submitted before the component
    loaded; the counts of earlier page loads are still added by the store). With them, the step's bot and
    LLM-agent signals (:func:`study_app.study.bot_signals.summarise`) when the page sent them."""
    received = _received(key)
    if received is None:
        return None
    return {**received[0], "page_load": received[1], **(summarise(_raw(key)) or {})}
