"""The way back to the recruitment site: one code per outcome, the URL that carries it, check's warnings,
and the device gate's decisions."""

from __future__ import annotations

import dataclasses

import pytest

from study_app.readiness import check_return_to_recruiter
from study_app.study import StudyFileError
from study_app.study.completion import (
    COMPLETED,
    NO_CONSENT,
    SCREENED_OUT,
    outcome_code,
    redirect_problems,
    redirect_warnings,
    return_url,
    with_code,
)
from study_app.study.device_gate import DeviceGate, is_phone
from study_app.study.parser import parse_study

PHONE_UA = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
            "Version/17.0 Mobile/15E148 Safari/604.1")
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"

BASE = {
    "study": {"id": "s", "title": "T", "completion_code": "DONE1", "consent": "c", "instructions": "i"},
    "design": {"type": "within"},
    "methods": [{"name": "gradcam"}],
    "tasks": [{"name": "t", "protocol": "verification", "checkpoint": "ck", "stimuli": "st", "trials": 2}],
}


def study_with(**fields):
    data = {**BASE, "study": {**BASE["study"], **fields}}
    return parse_study(data, source="s.toml")


def test_each_outcome_returns_with_its_own_code():
    study = study_with(screened_out_code="SCR1", no_consent_code="NOC1",
                       redirect_url="https://app.prolific.com/submissions/complete?cc={code}")
    assert return_url(study, COMPLETED) == "https://app.prolific.com/submissions/complete?cc=DONE1"
    assert return_url(study, SCREENED_OUT) == "https://app.prolific.com/submissions/complete?cc=SCR1"
    assert return_url(study, NO_CONSENT) == "https://app.prolific.com/submissions/complete?cc=NOC1"
    assert redirect_warnings(study) == []


def test_a_literal_cc_parameter_is_replaced_per_outcome_and_other_parameters_kept():
    url = "https://app.prolific.com/submissions/complete?x=1&cc=DONE1&y=a+b"
    assert with_code(url, "SCR1") == "https://app.prolific.com/submissions/complete?x=1&cc=SCR1&y=a+b"
    study = study_with(screened_out_code="SCR1", redirect_url=url)
    assert return_url(study, SCREENED_OUT).endswith("cc=SCR1&y=a+b")


def test_an_outcome_without_a_code_gets_no_address():
    """Sending a screened-out participant back with the completion code would pay them as complete."""
    study = study_with(redirect_url="https://app.prolific.com/submissions/complete?cc={code}")
    assert outcome_code(study, SCREENED_OUT) is None
    assert return_url(study, SCREENED_OUT) is None and return_url(study, NO_CONSENT) is None
    assert return_url(study_with(), COMPLETED) is None  # no redirect_url at all
    with pytest.raises(ValueError, match="unknown outcome"):
        outcome_code(study, "finished")


@pytest.mark.parametrize("url", ["https://app.prolific.co/submissions/complete?cc={code}",
                                 "https://prolific.ac/submissions/complete?cc={code}"])
def test_check_warns_about_an_old_prolific_address(url):
    study = study_with(redirect_url=url)
    assert any("old Prolific address" in p for p in redirect_warnings(study)) and redirect_problems(study) == []


def test_a_local_test_address_may_be_plain_http():
    study = study_with(redirect_url="http://127.0.0.1:8000/done?cc={code}")
    assert redirect_warnings(study) == [] and redirect_problems(study) == []


def test_study_file_fields_are_checked_with_their_path():
    with pytest.raises(StudyFileError, match="study.redirect_seconds"):
        study_with(redirect_seconds=-1)
    with pytest.raises(StudyFileError, match="study.min_viewport_width"):
        study_with(min_viewport_width=50)
    with pytest.raises(StudyFileError, match="study.allow_phones"):
        study_with(allow_phones="no")
    study = study_with(redirect_seconds=2.5, min_viewport_width=900, allow_phones=False)
    assert study.redirect_seconds == 2.5
    assert study.device == DeviceGate(min_viewport_width=900, allow_phones=False)
    assert study_with().device.active is False and study_with().redirect_seconds == 5


def test_device_gate_refuses_phones_and_narrow_windows_with_the_reason():
    gate = DeviceGate(min_viewport_width=900, allow_phones=False)
    assert is_phone(PHONE_UA) and not is_phone(DESKTOP_UA) and not is_phone(None)
    assert "phone" in gate.refusal(user_agent=PHONE_UA, viewport_width=1200)
    narrow = gate.refusal(user_agent=DESKTOP_UA, viewport_width=700)
    assert "700" in narrow and "900" in narrow
    assert gate.refusal(user_agent=DESKTOP_UA, viewport_width=900) is None
    assert gate.refusal(user_agent=DESKTOP_UA, viewport_width=None) is None  # not reported yet
    assert "not a phone" in gate.requirement() and "900 pixels" in gate.requirement()
    open_gate = dataclasses.replace(gate, min_viewport_width=None, allow_phones=True)
    assert open_gate.refusal(user_agent=PHONE_UA, viewport_width=300) is None
    assert open_gate.requirement() is None


def test_check_reports_the_round_trip_as_a_warning_not_a_failure():
    bad = check_return_to_recruiter(study_with(redirect_url="https://app.prolific.co/submissions/complete?cc=DONE1"))
    assert (bad.ok, bad.blocking, bad.mark) == (False, False, "warn") and "old Prolific address" in bad.detail
    good = check_return_to_recruiter(study_with(no_consent_code="N0",
                                                redirect_url="https://app.prolific.com/x?cc={code}"))
    assert good.ok and "completed, no_consent" in good.detail
    assert "code only" in check_return_to_recruiter(study_with()).detail
