"""Where the README's screenshots go: a plain test run never rewrites the committed ones (each participant's
plan is drawn at random, so trial screenshots differ from run to run); asking for an update does."""

from __future__ import annotations

from e2e import doc_screenshots
from e2e.doc_screenshots import ARTIFACTS, DOCS, UPDATE_ENV, screenshot_folder


def test_a_plain_test_run_writes_screenshots_outside_the_tracked_docs(monkeypatch):
    monkeypatch.delenv(UPDATE_ENV, raising=False)
    assert screenshot_folder() == ARTIFACTS
    assert not str(ARTIFACTS).startswith(str(DOCS))
    monkeypatch.setenv(UPDATE_ENV, "0")
    assert screenshot_folder() == ARTIFACTS


def test_the_docs_are_rewritten_only_when_asked(monkeypatch):
    monkeypatch.setenv(UPDATE_ENV, "1")
    assert screenshot_folder() == DOCS == doc_screenshots.PROJECT_ROOT / "docs" / "screenshots"
