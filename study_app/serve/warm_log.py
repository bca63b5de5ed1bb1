"""What a server's log says about its warm-up, written by :mod:`study_app.ui.warm_start` and read by the
launcher (``xai-study serve``), which repeats a broken study's line on the researcher's terminal."""

from __future__ import annotations

WARM_DONE = "warm: ready for participants"
WARM_FAILED = "warm: the study cannot be opened"


def warm_failures(log_text: str) -> list[str]:
    """The log's warm-up failure lines, from the marker on (without the time stamp and logger name)."""
    return [line[line.index(WARM_FAILED):].strip() for line in log_text.splitlines() if WARM_FAILED in line]
