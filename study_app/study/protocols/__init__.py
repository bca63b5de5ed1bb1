"""The protocols: one module each, behind the :class:`~study_app.study.protocols.base.Protocol` contract.

A new protocol is one module here (a ``Protocol`` subclass: its fields, phases and prompts, trials, attention
check, answers and score, maps) and one line in :data:`PROTOCOLS`; its answer form is one line in the UI's
``(protocol, phase) → form`` table (``study_app/ui/trial_forms.py``: ``FORMS``). See ARCHITECTURE.md.
"""

from __future__ import annotations

from study_app.study.protocols.base import Protocol
from study_app.study.protocols.decision import Decision
from study_app.study.protocols.distinction import Distinction
from study_app.study.protocols.forward_simulation import ForwardSimulation
from study_app.study.protocols.rate import Rate
from study_app.study.protocols.verification import Verification

PROTOCOLS: dict[str, Protocol] = {p.name: p for p in (Rate(), ForwardSimulation(), Verification(), Distinction(),
                                                      Decision())}


def protocol_of(name: str) -> Protocol:
    """The protocol called ``name`` (a ``KeyError`` naming the known ones otherwise)."""
    try:
        return PROTOCOLS[name]
    except KeyError:
        raise KeyError(f"unknown protocol {name!r} (known: {', '.join(PROTOCOLS)})") from None
