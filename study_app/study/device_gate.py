"""Which devices may take part: an optional minimum window width and "no phones", checked on consent.

A study that shows three maps beside a photo is unreadable on a phone; the researcher can say so in the
study file (``[study] min_viewport_width = 900``, ``allow_phones = false``) and the consent page then tells
such a participant why they cannot start, before anything is stored. Phones are recognised the way MDN
recommends, by ``Mobi`` in the User-Agent; the width is the browser window's, reported by the page.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from study_app.i18n import N_

Gettext = Callable[[str], str]  # a translator's gettext; N_ keeps the English text


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


def is_phone(user_agent: str | None) -> bool:
    """``Mobi`` in the User-Agent (MDN's recommendation for "is this a phone")."""
    return bool(user_agent) and "Mobi" in user_agent
