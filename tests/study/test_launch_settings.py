"""Launch settings `xai-study check` judges (issue 21, item 4): the way back to the recruitment site carries the
code URL-encoded, a redirect_url that cannot carry it fails naming the field, and one password rule for check,
the login form and serve refuses example and short passwords."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from study.test_completion import BASE, study_with
from study_app.readiness import check_password, check_return_to_recruiter
from study_app.serve.launcher import Deployment, DeploymentError
from study_app.settings import Settings, password_problem, read_secrets_file
from study_app.study import StudyFileError
from study_app.study.completion import COMPLETED, SCREENED_OUT, redirect_problems, return_url, with_code
from study_app.study.parser import parse_study

AWKWARD = "AB CD#1&x=2"
PROJECT = Path(__file__).resolve().parents[2]


def test_a_code_with_spaces_hash_and_ampersand_arrives_whole_through_the_placeholder():
    study = study_with(completion_code=AWKWARD, redirect_url="https://app.prolific.com/submissions/complete?cc={code}")
    url = return_url(study, COMPLETED)
    parts = urlsplit(url)
    assert parts.fragment == "", url  # unencoded, "#1&x=2" became a fragment and never reached Prolific
    assert parse_qs(parts.query) == {"cc": [AWKWARD]}


def test_a_code_in_the_path_is_encoded_too():
    url = with_code("https://example.org/done/{code}/", AWKWARD)
    assert unquote(urlsplit(url).path) == f"/done/{AWKWARD}/" and not urlsplit(url).fragment


def test_a_literal_cc_parameter_gets_the_encoded_code_and_keeps_the_others():
    study = study_with(screened_out_code=AWKWARD, redirect_url="https://app.prolific.com/x?a=1&cc=DONE1")
    query = parse_qs(urlsplit(return_url(study, SCREENED_OUT)).query)
    assert query == {"a": ["1"], "cc": [AWKWARD]}


@pytest.mark.parametrize(("url", "expected"), [
    ("https://", "names no host"),
    ("https:///submissions/complete?cc={code}", "names no host"),
    ("http://example.org/done?cc={code}", "must use https://"),
    ("https://app.prolific.com/submissions/complete", "carries no code"),
])
def test_check_fails_a_redirect_that_cannot_return_the_code_naming_the_field(url, expected):
    study = study_with(redirect_url=url)
    problems = redirect_problems(study)
    assert any(expected in p and p.startswith("study.redirect_url:") for p in problems), problems
    verdict = check_return_to_recruiter(study)
    assert (verdict.ok, verdict.blocking, verdict.mark) == (False, True, "FAIL")
    assert "study.redirect_url" in verdict.detail


@pytest.mark.parametrize("url", ["https://app.prolific.com/submissions/complete?cc={code}",
                                 "https://app.prolific.com/submissions/complete?cc=SOMETHING_ELSE",
                                 "https://app.prolific.com/submissions/complete?cc=",
                                 "http://localhost:8501/done/{code}"])
def test_a_redirect_that_carries_the_code_passes_without_a_warning(url):
    """A literal cc= value is replaced by each outcome's code (so no 'write cc={code}' warning)."""
    study = study_with(redirect_url=url)
    verdict = check_return_to_recruiter(study)
    assert verdict.ok and verdict.mark == "ok", verdict.detail
    assert parse_qs(urlsplit(return_url(study, COMPLETED)).query).get("cc") in (["DONE1"], None)
    assert "DONE1" in return_url(study, COMPLETED)


def _settings(password, tmp_path):
    return Settings.given(tmp_path / "s.toml", password)


def _documented_examples() -> list[str]:
    """The passwords the project's own documentation shows as examples (README, deploy, secrets example)."""
    found = [read_secrets_file(PROJECT / ".streamlit" / "secrets.toml.example")["researcher_password"]]
    for doc in ("README.md", "deploy/README.md"):
        found += re.findall(r"XAI_STUDY_RESEARCHER_PASSWORD='([^']+)'", (PROJECT / doc).read_text(encoding="utf-8"))
    return found


def test_documented_example_passwords_are_found():
    """The secrets example and deploy/README show literal passwords (the README makes a random one)."""
    assert "change-me-to-a-long-random-string" in _documented_examples() and len(_documented_examples()) >= 2


@pytest.mark.parametrize("password", ["abc", "password", "Password", "changeme", "short-pw-11"])
def test_check_refuses_short_and_default_passwords_with_the_reason(password, tmp_path):
    verdict = check_password(_settings(password, tmp_path))
    assert verdict.mark == "FAIL" and "not set properly" in verdict.detail
    assert repr(password) not in verdict.detail and "short-pw-11" not in verdict.detail  # never the password


def test_check_refuses_every_password_the_documentation_shows(tmp_path):
    for example in _documented_examples():
        verdict = check_password(_settings(example, tmp_path))
        assert verdict.mark == "FAIL" and "example" in verdict.detail, example


def test_a_long_own_password_passes(tmp_path):
    assert password_problem("correct horse battery staple") is None
    assert check_password(_settings("correct horse battery staple", tmp_path)).mark == "ok"
    assert "12" in password_problem("eleven-char")


def test_serve_refuses_the_password_check_refuses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("XAI_STUDY_RESEARCHER_PASSWORD", raising=False)
    url = "postgresql+psycopg://xai:xai@127.0.0.1:5432/nowhere"
    with pytest.raises(DeploymentError, match="not set properly"):
        Deployment(None, url, replicas=2, env={"XAI_STUDY_RESEARCHER_PASSWORD": "pick a long password"},
                   log_dir=tmp_path)
    with pytest.raises(DeploymentError, match="at least 12"):
        Deployment(None, url, replicas=2, researcher_password="short-pw-11", log_dir=tmp_path)


def test_require_prolific_id_is_read_from_the_study_table():
    assert study_with(require_prolific_id=True).require_prolific_id is True
    assert study_with().require_prolific_id is False
    with pytest.raises(StudyFileError, match="study.require_prolific_id"):
        parse_study({**BASE, "study": {**BASE["study"], "require_prolific_id": "yes"}}, source="s.toml")
