"""Which devices may take part: an optional minimum window width and "no phones", checked on consent.

A study that shows three maps beside a photo is unreadable on a phone; the researcher can say so in the
study file (``[study] min_viewport_width = 900``, ``allow_phones = false``) and the consent page then tells
such a participant why they cannot start, before anything is stored. Phones are recognised the way MDN
recommends, by ``Mobi`` in the User-Agent; the width is the browser window's, reported by the page.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceGate:
    min_viewport_width: int | None = None  # px; None: any width
    allow_phones: bool = True

    @property
    def active(self) -> bool:
        return self.min_viewport_width is not None or not self.allow_phones

    def requirement(self) -> str | None:
        """The requirement in words for the consent page, or ``None`` when the study has none."""
        parts = []
        if not self.allow_phones:
            parts.append("a computer or tablet (not a phone)")
        if self.min_viewport_width is not None:
            parts.append(f"a browser window at least {self.min_viewport_width} pixels wide")
        return "This study needs " + " and ".join(parts) + "." if parts else None

    def refusal(self, *, user_agent: str | None, viewport_width: int | None) -> str | None:
        """Why this device cannot take part, or ``None``. An unknown width is not refused yet (the page
        has not reported it)."""
        if not self.allow_phones and is_phone(user_agent):
            return ("This study cannot be done on a phone. Please open the same link on a computer or "
                    "tablet; nothing has been stored.")
        if self.min_viewport_width is not None and viewport_width is not None \
                and viewport_width < self.min_viewport_width:
            return (f"Your browser window is {viewport_width} pixels wide; this study needs at least "
                    f"{self.min_viewport_width}. Please widen the window (or use a larger screen) to start; "
                    "nothing has been stored.")
        return None


def is_phone(user_agent: str | None) -> bool:
    """``Mobi`` in the User-Agent (MDN's recommendation for "is this a phone")."""
    return bool(user_agent) and "Mobi" in user_agent
