"""What every page adds to Streamlit's own styles so that everyone can take part, drawn once per page.

* **Keyboard focus that can be seen** (WCAG 2.4.7). Streamlit marks a focused radio option with a faint grey tint
  (under 60 of 255 from white: not visible to many) and shows an image's toolbar (the "Fullscreen" button) only
  under the pointer, so a keyboard user tabbing onto it sees nothing. Both are outlined in the text colour;
  ``tests/e2e/test_keyboard_browser.py`` measures the result in pixels.
* **Pictures that fit the screen.** A picture drawn at its own width (``stimulus_view.PICTURE_WIDTH``, 360 px)
  sits in a container of that fixed width, which on a 360 px phone (328 px of content) reached past the screen's
  edge and was cut off there; the container may now be no wider than the column, so the picture shrinks.
* **Targets a finger can hit** on a phone or any touch screen (WCAG 2.5.5's 44 × 44 CSS px): Streamlit's radio
  options are 22 px high, its buttons and drop-downs 38-40 px, an image's toolbar button 24 px and a help icon
  16 px. Below :data:`NARROW_PX` or with a coarse pointer, each gets at least 44 px, and the headings' anchor
  links (16 px, shown only under a pointer, of no use to a participant) are left out;
  ``tests/e2e/test_phone_browser.py`` measures every control of every protocol's pages at 360 px.
"""

from __future__ import annotations

import streamlit as st

NARROW_PX = 640  # Streamlit stacks columns below this width too
TOUCH_PX = 44

PAGE_CSS = f"""<style>
[data-testid="stRadio"] label:has(input:focus-visible),
[data-testid="stCheckbox"] label:has(input:focus-visible) {{
  outline: 2px solid #000000; outline-offset: 2px; border-radius: 4px;
}}
[data-testid="stElementToolbar"]:has(:focus-visible) {{ opacity: 1 !important; visibility: visible !important; }}
[data-testid="stElementToolbar"] button:focus-visible {{ outline: 2px solid #000000; outline-offset: 1px; }}
[data-testid="stMain"] [data-testid="stImageContainer"] {{ max-width: 100%; }}
@media (max-width: {NARROW_PX}px), (pointer: coarse) {{
  [data-testid="stMain"] button {{ min-height: {TOUCH_PX}px; min-width: {TOUCH_PX}px; }}
  [data-testid="stMain"] [data-testid="stRadio"] label,
  [data-testid="stMain"] [data-testid="stCheckbox"] label {{
    min-height: {TOUCH_PX}px; min-width: {TOUCH_PX}px; align-items: center;
  }}
  [data-testid="stMain"] [data-testid="stSelectbox"] > div:has(input[role="combobox"]),
  [data-testid="stMain"] [data-testid="stSelectbox"] > div:has(input[role="combobox"]) > div {{
    min-height: {TOUCH_PX}px;
  }}
  [data-testid="stMain"] [data-testid="stHeaderActionElements"] {{ display: none; }}
  [data-testid="stMain"] [data-testid="stTooltipHoverTarget"] {{
    min-height: {TOUCH_PX}px; min-width: {TOUCH_PX}px; display: inline-flex; align-items: center;
    justify-content: center;
  }}
}}
</style>"""


def page_style() -> None:
    """Add the stylesheet to the page (a style-only ``st.html`` takes no space)."""
    st.html(PAGE_CSS)
