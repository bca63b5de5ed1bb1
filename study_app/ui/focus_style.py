"""Keyboard focus that can be seen on every control (WCAG 2.4.7), drawn once per page.

Streamlit marks a focused radio option with a faint grey tint (under 60 of 255 from white: not visible to many)
and shows an image's toolbar (the "Fullscreen" button) only under the pointer, so a keyboard user tabbing
onto it sees nothing. This stylesheet outlines both in the text colour; ``tests/e2e/test_keyboard_browser.py``
measures the result in pixels.
"""

from __future__ import annotations

import streamlit as st

FOCUS_CSS = """<style>
[data-testid="stRadio"] label:has(input:focus-visible),
[data-testid="stCheckbox"] label:has(input:focus-visible) {
  outline: 2px solid #000000; outline-offset: 2px; border-radius: 4px;
}
[data-testid="stElementToolbar"]:has(:focus-visible) { opacity: 1 !important; visibility: visible !important; }
[data-testid="stElementToolbar"] button:focus-visible { outline: 2px solid #000000; outline-offset: 1px; }
</style>"""


def focus_style() -> None:
    """Add the stylesheet to the page (a style-only ``st.html`` takes no space)."""
    st.html(FOCUS_CSS)
