"""The participant page's one ``(protocol, phase) → form`` table covers every phase of every registered protocol,
so a protocol added by the recipe cannot reach a participant without its form."""

from __future__ import annotations

from study_app.app_pages.steps.trial import FORMS
from study_app.study.protocols import PROTOCOLS


def test_every_phase_of_every_protocol_has_its_form():
    forms = FORMS
    missing = [(name, phase) for name, protocol in PROTOCOLS.items() for phase in protocol.prompts
               if (name, phase) not in forms]
    assert missing == []
    assert set(forms) <= {(name, phase) for name, p in PROTOCOLS.items() for phase in p.prompts}
