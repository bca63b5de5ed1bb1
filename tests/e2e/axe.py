"""axe-core, the accessibility engine, from the npm registry, run inside Debian's Chromium by Playwright.

The package is fetched once (pinned version, checked against the registry's published SHA-512 integrity) into
``~/.cache/xai-study/`` and injected into the page under audit. :func:`audit` runs the WCAG 2.0/2.1/2.2 level A
and AA rules and returns the violations; :func:`serious` keeps those of impact "serious" or "critical", which
the tests hold at zero, and :func:`describe` lists everything for the test output.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import urllib.request
from pathlib import Path

import pytest

AXE_VERSION = "4.14.1"
AXE_URL = f"https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz"
AXE_INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "xai-study" / f"axe-{AXE_VERSION}.min.js"
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
BLOCKING = ("serious", "critical")

RUN_JS = """async (tags) => {
  const result = await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']});
  return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    nodes: v.nodes.map(n => ({target: n.target.join(' '), summary: n.failureSummary || ''}))}));
}"""


def _download() -> str:
    with urllib.request.urlopen(AXE_URL, timeout=60) as response:  # noqa: S310 - a fixed https address
        packed = response.read()
    digest = "sha512-" + base64.b64encode(hashlib.sha512(packed).digest()).decode()
    if digest != AXE_INTEGRITY:
        raise RuntimeError(f"{AXE_URL} does not match the registry's integrity {AXE_INTEGRITY} (got {digest})")
    with tarfile.open(fileobj=io.BytesIO(packed), mode="r:gz") as tar:
        return tar.extractfile("package/axe.min.js").read().decode("utf-8")


def axe_source() -> str:
    """axe.min.js (downloaded on first use); skips the test locally, fails it in CI, when it cannot be had."""
    if CACHE.is_file():
        return CACHE.read_text(encoding="utf-8")
    try:
        source = _download()
    except (OSError, RuntimeError) as exc:
        if os.environ.get("CI"):
            pytest.fail(f"axe-core {AXE_VERSION} could not be fetched from the npm registry: {exc}")
        pytest.skip(f"axe-core {AXE_VERSION} could not be fetched from the npm registry: {exc}")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    CACHE.write_text(source, encoding="utf-8")
    return source


def audit(page, source: str) -> list[dict]:
    """The WCAG A/AA violations on the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=source)
    return page.evaluate(RUN_JS, WCAG_TAGS)


def serious(violations: list[dict]) -> list[dict]:
    return [v for v in violations if v["impact"] in BLOCKING]


def describe(where: str, violations: list[dict]) -> list[str]:
    """One line per violation: where, rule, impact, how many elements, the first element and why."""
    return [f"{where}: {v['id']} ({v['impact']}, {len(v['nodes'])} element(s)) {v['help']}; "
            f"e.g. {v['nodes'][0]['target']}: {v['nodes'][0]['summary'][:160]!r}" for v in violations]
