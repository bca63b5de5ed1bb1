"""What only the participant's browser knows or can do, through Streamlit components (``st.components.v2``).

Three small components, each registered once per process:

* :func:`return_after` sends the browser on to an address after a pause (the end page's way back to
  Prolific; the page keeps a link as the fallback);
* :func:`viewport_width` reports the browser window's width (the device gate on consent); outside a form its
  first report reruns the page once;
* :func:`page_signals` counts how often and how long the page was hidden (Page Visibility API) or lost
  focus while a trial was on screen. It is drawn *inside* the trial's form, so its counts travel with the
  submitted answer and cost no script run of their own.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

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


_return = st.components.v2.component("xai_study.return_after", js=_RETURN_JS)
_width = st.components.v2.component("xai_study.viewport_width", js=_WIDTH_JS)
_signals = st.components.v2.component("xai_study.page_signals", js=_SIGNALS_JS)


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


def submitted_signals(key: str) -> dict[str, int] | None:
    """The counts :func:`page_signals` sent with the submitted form, as whole numbers (``None``: the
    browser sent none, e.g. the form was submitted before the component loaded)."""
    state = st.session_state.get(key)
    raw = state.get("signals") if hasattr(state, "get") else None
    if not isinstance(raw, dict):
        return None
    out = {}
    for name in BROWSER_SIGNALS:
        value = raw.get(name)
        out[name] = int(value) if isinstance(value, int | float) and 0 <= value < 10**9 else 0
    return out
