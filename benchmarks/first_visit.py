"""How long the first visitor after a start waits: from the server reporting healthy to the consent text.

    python benchmarks/first_visit.py                  # the bundled demo, warm and cold start, 2 runs each
    python benchmarks/first_visit.py --runs 3 --study examples/studies/offline/rate.toml --text "consent"

Each run starts ``streamlit run study_app/main.py`` as the README does (the project's own
``.streamlit/config.toml``, a fresh SQLite database in a temporary folder), waits until
``/_stcore/health`` answers ``ok`` (polled every 0.25 s, as ``tests/e2e/streamlit_server.py`` and
``xai-study serve`` do), then opens the participant page in a fresh Chromium context (the browser itself is
launched once, before any server, so its start is not counted) and waits until the consent text is visible.

Two modes, alternated run by run so that whatever else the machine does weighs on both alike:

* ``warm``: the server as it ships: it loads the study, models and maps before it answers its health check
  (``study_app.ui.warm_start``);
* ``cold``: the old behaviour, ``XAI_STUDY_COLD_START=1``: the health check answers at once and the first
  visitor's session pays for loading everything.

Printed per mode: start -> healthy, healthy -> consent visible (the goal: within 3 s when warm), and
start -> consent visible, each as the median over the runs with the range.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402

from study_app.ui.warm_start import COLD_START_ENV  # noqa: E402

DEMO = ROOT / "demo" / "study.toml"
DEMO_CONSENT = "Welcome, and consent"
GOAL_S = 3.0
VISIT_TIMEOUT_MS = 180_000


@dataclass
class Mode:
    name: str
    env: dict[str, str]
    to_healthy: list[float] = field(default_factory=list)
    to_consent: list[float] = field(default_factory=list)  # from healthy

    def row(self) -> str:
        total = [a + b for a, b in zip(self.to_healthy, self.to_consent, strict=True)]
        return f"{self.name:<6} {_cell(self.to_healthy)} {_cell(self.to_consent)} {_cell(total)}"


def _cell(values: list[float]) -> str:
    if not values:
        return f"{'-':>22}"
    return f"{statistics.median(values):7.1f} s ({min(values):.1f}-{max(values):.1f})".rjust(22)


def first_visit(browser, server: StreamlitServer, text: str) -> float:
    """Seconds from the server's first healthy answer until ``text`` is visible to a first visitor."""
    from playwright.sync_api import expect  # noqa: PLC0415 - heavy; only when measuring

    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(server.url, timeout=VISIT_TIMEOUT_MS)
        expect(page.get_by_text(text, exact=False).first).to_be_visible(timeout=VISIT_TIMEOUT_MS)
        return time.monotonic() - server.healthy_at
    finally:
        context.close()


def measure(modes: list[Mode], runs: int, study: Path, text: str, folder: Path) -> None:
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - heavy; only when measuring

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for run in range(runs):
                for mode in modes:
                    env = {"XAI_STUDY_FILE": str(study), "XAI_STUDY_DB_URL": f"sqlite:///{folder / f'{mode.name}{run}.sqlite'}",
                           **mode.env}
                    log = folder / f"{mode.name}{run}.log"
                    with StreamlitServer(env, log) as server:
                        mode.to_healthy.append(server.healthy_at - server.started_at)
                        mode.to_consent.append(first_visit(browser, server, text))
                    print(f"run {run + 1} {mode.name}: healthy after {mode.to_healthy[-1]:.1f} s, consent "  # noqa: T201
                          f"{mode.to_consent[-1]:.1f} s later (log {log})", flush=True)
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=2, help="starts per mode (default: %(default)s)")
    parser.add_argument("--study", type=Path, default=DEMO, help="study file (default: the bundled demo)")
    parser.add_argument("--text", default=DEMO_CONSENT, help="text of the consent page to wait for")
    parser.add_argument("--modes", default="warm,cold", help="warm, cold or both (default: %(default)s)")
    args = parser.parse_args(argv)
    known = {"warm": Mode("warm", {COLD_START_ENV: "0"}), "cold": Mode("cold", {COLD_START_ENV: "1"})}
    modes = [known[name.strip()] for name in args.modes.split(",")]
    with tempfile.TemporaryDirectory(prefix="first-visit-") as tmp:
        measure(modes, args.runs, args.study.resolve(), args.text, Path(tmp))
    print(f"\nfirst visit after a start, {args.runs} run(s) per mode, median (range); goal: healthy -> consent "  # noqa: T201
          f"<= {GOAL_S:.0f} s when warm")
    print(f"{'mode':<6} {'start -> healthy':>22} {'healthy -> consent':>22} {'start -> consent':>22}")  # noqa: T201
    for mode in modes:
        print(mode.row())  # noqa: T201
    warm = known["warm"]
    return 0 if not warm.to_consent or max(warm.to_consent) <= GOAL_S else 1


if __name__ == "__main__":
    sys.exit(main())
