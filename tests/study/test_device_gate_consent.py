"""The device gate holds at consent: the engine checks what the page measured and enrols nobody it refuses.

The consent page offers no buttons before it knows the window's width, but a page is only the browser's
word: a consent sent early (or by hand) must not get in. Each refusal here leaves the database empty.
"""

from __future__ import annotations

import dataclasses

import pytest

from study_app.study import AnswerError
from study_app.study.device_gate import DeviceGate, DeviceRefused, device_checked
from study_app.study.steps import CONSENT, DECLINED

PHONE_UA = ("Mozilla/5.0 (Linux; Android 14; Pixel 5) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/130.0 Mobile Safari/537.36")
DESKTOP_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36"


@pytest.fixture
def gated(make_study, make_engine_for, sqlite_repo):
    study = make_study("verification")
    study = dataclasses.replace(study, device=DeviceGate(min_viewport_width=900, allow_phones=False))
    return make_engine_for(study, sqlite_repo)


def _nobody_stored(engine) -> bool:
    return engine.repository.participants(engine.record.id) == []


@pytest.mark.parametrize(("answer", "says"), [
    ({"agree": True}, "did not report its window size"),  # the page never measured (or was bypassed)
    ({"agree": True, "user_agent": DESKTOP_UA}, "did not report its window size"),
    ({"agree": True, "viewport_width": 360, "user_agent": DESKTOP_UA}, "360 pixels wide"),
    ({"agree": True, "viewport_width": 899, "user_agent": DESKTOP_UA}, "899 pixels wide"),
    ({"agree": True, "viewport_width": 1200, "user_agent": PHONE_UA}, "cannot be done on a phone"),
])
def test_a_consent_the_gate_refuses_enrols_nobody(gated, answer, says):
    token = gated.start_or_resume()
    with pytest.raises(DeviceRefused) as refused:
        gated.submit(token, CONSENT, answer)
    assert says in refused.value.reason()
    assert _nobody_stored(gated)
    assert gated.current_step(token).kind == CONSENT  # still at consent, free to try on another device


def test_a_measured_device_that_passes_is_enrolled(gated):
    token = gated.start_or_resume()
    step = gated.submit(token, CONSENT, {"agree": True, "viewport_width": 900, "user_agent": DESKTOP_UA})
    assert step.kind != CONSENT
    assert len(gated.repository.participants(gated.record.id)) == 1


def test_declining_needs_no_measurement(gated):
    token = gated.start_or_resume()
    assert gated.submit(token, CONSENT, {"agree": False}).kind == DECLINED
    assert _nobody_stored(gated)


def test_a_study_without_a_gate_asks_for_nothing(make_study, make_engine_for, sqlite_repo):
    engine = make_engine_for(make_study("verification"), sqlite_repo)
    token = engine.start_or_resume()
    assert engine.submit(token, CONSENT, {"agree": True, "viewport_width": None, "user_agent": PHONE_UA}).kind != CONSENT
    assert len(sqlite_repo.participants(engine.record.id)) == 1


def test_a_phone_only_gate_does_not_need_the_width():
    gate = DeviceGate(allow_phones=False)
    assert device_checked(gate, {"agree": True, "viewport_width": None, "user_agent": DESKTOP_UA}) == {"agree": True}
    with pytest.raises(DeviceRefused):
        device_checked(gate, {"agree": True, "user_agent": PHONE_UA})


@pytest.mark.parametrize("width", ["1200", 12.5, True, -1, 10**9])
def test_a_malformed_width_is_an_answer_error(width):
    with pytest.raises(AnswerError, match="viewport_width"):
        device_checked(DeviceGate(min_viewport_width=900), {"agree": True, "viewport_width": width})
