"""Which devices may take part: an optional minimum window width and "no phones", checked on consent.

A study that shows three maps beside a photo is unreadable on a phone; the researcher can say so in the
study file (``[study] min_viewport_width = 900``, ``allow_phones = false``) and the consent page then tells
such a participant why they cannot start, before anything is stored. Phones are recognised the way MDN
recommends, by ``Mobi`` in the User-Agent; the width is the browser window's, reported by the page.

The page offers no consent until the width is known (a slow connection loads the reporting script late),
and the consent answer carries what the page measured (``viewport_width``, ``user_agent``): the engine checks
the gate again there (:func:`device_checked`), so a consent sent without a passing measurement enrols nobody.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from study_app.i18n import N_
from study_app.study.errors import AnswerError

Gettext = Callable[[str], str]  # a translator's gettext; N_ keeps the English text
DEVICE_FIELDS = ("viewport_width", "user_agent")  # what the consent answer carries besides ``agree``


@dataclass(frozen=True)
class DeviceGate:
    min_viewport_width: int | None = None  # px; None: any width
    allow_phones: bool = True

    @property
    def active(self) -> bool:
        return self.min_viewport_width is not None or not self.allow_phones

    def requirement(self, _: Gettext = N_) -> str | None:
        """The requirement in words for the consent page (in ``_``'s language), or ``None`` when the study
        has none."""
        no_phone = not self.allow_phones
        width = self.min_viewport_width
        if no_phone and width is not None:
            return _("This study needs a computer or tablet (not a phone) and a browser window at least "
                     "{width} pixels wide.").format(width=width)
        if no_phone:
            return _("This study needs a computer or tablet (not a phone).")
        if width is not None:
            return _("This study needs a browser window at least {width} pixels wide.").format(width=width)
        return None

    def refusal(self, *, user_agent: str | None, viewport_width: int | None, _: Gettext = N_) -> str | None:
        """Why this device cannot take part (in ``_``'s language), or ``None``. An unknown width is not
        refused yet (the page has not reported it)."""
        if not self.allow_phones and is_phone(user_agent):
            return _("This study cannot be done on a phone. Please open the same link on a computer or "
                     "tablet; nothing has been stored.")
        if self.min_viewport_width is not None and viewport_width is not None \
                and viewport_width < self.min_viewport_width:
            return _("Your browser window is {width} pixels wide; this study needs at least {minimum}. "
                     "Please widen the window (or use a larger screen) to start; nothing has been stored."
                     ).format(width=viewport_width, minimum=self.min_viewport_width)
        return None


    def needs_width(self) -> bool:
        """The page must report the window's width before consent is offered."""
        return self.min_viewport_width is not None

    def consent_refusal(self, *, user_agent: str | None, viewport_width: int | None,
                        _: Gettext = N_) -> str | None:
        """:meth:`refusal` at the moment of consent, where an unknown width is refused too."""
        if self.needs_width() and viewport_width is None:
            return _("Your browser did not report its window size, which this study needs. Please reload the "
                     "page (with JavaScript on) to start; nothing has been stored.")
        return self.refusal(user_agent=user_agent, viewport_width=viewport_width, _=_)


class DeviceRefused(AnswerError):
    """A consent from a device the study's gate refuses (or that did not report its width); nothing stored.
    :meth:`reason` words it in the page's language."""

    def __init__(self, gate: DeviceGate, user_agent: str | None, viewport_width: int | None):
        self.gate, self.user_agent, self.viewport_width = gate, user_agent, viewport_width
        super().__init__("viewport_width", self.reason())

    def reason(self, _: Gettext = N_) -> str:
        return self.gate.consent_refusal(user_agent=self.user_agent, viewport_width=self.viewport_width, _=_) or ""


def device_checked(gate: DeviceGate, answer):
    """The consent ``answer`` without the device measurement it carries, once the gate lets an agreement
    through (a refusal needs no device check).

    Raises:
        DeviceRefused: the answer agrees and the gate refuses the measured device (or a width is missing).
        AnswerError: a measurement of the wrong type.
    """
    if not isinstance(answer, Mapping):
        return answer  # validate_consent names the problem
    width, agent = answer.get("viewport_width"), answer.get("user_agent")
    if width is not None and (isinstance(width, bool) or not isinstance(width, int) or not 0 < width < 100_000):
        raise AnswerError("viewport_width", "must be a whole number of pixels")
    if agent is not None and not isinstance(agent, str):
        raise AnswerError("user_agent", "must be text")
    if answer.get("agree") is True and gate.active and gate.consent_refusal(user_agent=agent, viewport_width=width):
        raise DeviceRefused(gate, agent, width)
    return {k: v for k, v in answer.items() if k not in DEVICE_FIELDS}


def is_phone(user_agent: str | None) -> bool:
    """``Mobi`` in the User-Agent (MDN's recommendation for "is this a phone")."""
    return bool(user_agent) and "Mobi" in user_agent
