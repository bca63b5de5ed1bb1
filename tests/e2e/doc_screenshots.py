"""The README's screenshots, taken by the end-to-end tests so they show the pages as the code draws them.

``doc_shot(page, name)`` takes the top of the page (at most ``MAX_HEIGHT`` CSS pixels), scaled to ``WIDTH``
pixels and stored as a 256-colour PNG, so each stays well under 200 kB. Where it goes:

* a plain test run (CI, ``.ci/run``, a developer's ``pytest``) writes ``test-artifacts/screenshots/NAME.png``
  and never touches tracked files: each participant's plan is drawn at random, so a trial screenshot shows
  another image and method on every run (a fresh clone's test run rewrote three committed PNGs);
* with ``XAI_STUDY_UPDATE_SCREENSHOTS=1`` it rewrites ``docs/screenshots/NAME.png`` for the README, unless the
  new one looks the same as the committed one (mean pixel difference below ``SAME_LOOK``: timestamps,
  anti-aliasing). Do that after changing a page, and commit the PNGs with the change that caused them.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page

from e2e.streamlit_server import PROJECT_ROOT

DOCS = PROJECT_ROOT / "docs" / "screenshots"
ARTIFACTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
UPDATE_ENV = "XAI_STUDY_UPDATE_SCREENSHOTS"
WIDTH = 760
MAX_HEIGHT = 1500
SAME_LOOK = 3.0  # mean absolute difference per channel, 0-255


def small_png(png: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width > WIDTH:
        image = image.resize((WIDTH, round(image.height * WIDTH / image.width)), Image.Resampling.LANCZOS)
    return image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)


def looks_the_same(new: Image.Image, path: Path) -> bool:
    try:
        with Image.open(path) as old_file:
            old = np.asarray(old_file.convert("RGB"), dtype=np.int16)
    except OSError:
        return False
    fresh = np.asarray(new.convert("RGB"), dtype=np.int16)
    return old.shape == fresh.shape and float(np.abs(old - fresh).mean()) < SAME_LOOK


def screenshot_folder() -> Path:
    """``docs/screenshots`` when asked to update them, else the test artifacts (see the module docstring)."""
    return DOCS if os.environ.get(UPDATE_ENV, "").strip() == "1" else ARTIFACTS


def doc_shot(page: Page, name: str, folder: Path | None = None) -> Path:
    """Screenshot the page's top for the README (see the module docstring); returns the file's path."""
    folder = folder if folder is not None else screenshot_folder()
    size = page.viewport_size or {"width": 1280, "height": MAX_HEIGHT}
    height = min(MAX_HEIGHT, page.evaluate("() => document.documentElement.scrollHeight"))
    png = page.screenshot(full_page=True, clip={"x": 0, "y": 0, "width": size["width"], "height": height})
    image = small_png(png)
    path = folder / f"{name}.png"
    if not looks_the_same(image, path):
        folder.mkdir(parents=True, exist_ok=True)
        image.save(path, optimize=True)
    return path
