"""What one participant click costs the server: the bundled demo against a reference app that computes nothing.

    python benchmarks/click_cost.py                   # two walks per app
    python benchmarks/click_cost.py --walks 4 --profile profiles/

Two ``streamlit run`` servers, both from the project root with the project's own ``.streamlit/config.toml``:
the bundled demo (``study_app/main.py`` on its committed cache, a fresh SQLite database) and
``benchmarks/reference_app.py`` (the same kinds of screens, widgets and pictures, one script run per click,
nothing computed). Both servers run at once; one Chromium participant at a time walks an app from consent to
the completion code, answering every radio, text box and selectbox and clicking the screen's primary button,
and the walks alternate between the apps (demo, reference, demo, ...), so that whatever else the machine
does in the meantime weighs on both alike. Per app it prints:

* server CPU seconds per click: the server process's own CPU time (``/proc/PID/stat``, all threads) over
  its measured walks, divided by their clicks, so the browser's CPU is not in it; and the ratio of each
  demo walk to the reference walk that followed it (median and range), to show how much the figure moves;
* click -> settled (median, p95): from the click until the next screen's content is on the page and
  Streamlit reports the script run finished with no stale element left;
* click -> every image loaded (p95): until each ``<img>`` on the new screen has decoded;
* server memory (RSS) before and after the measured walks;

and the ratios demo / reference, with the goals (<= 1.25x CPU, <= 1.5x on both p95s), and how many
participants one core carries at a 10 s think time and 70 % utilisation. The first page load of each
server (imports, models, cache warm-up) is excluded: a warm-up participant opens each app first.

``--profile DIR`` samples both servers with py-spy during their measured walks, writes the collapsed stacks
to ``DIR/demo.txt`` and ``DIR/reference.txt``, and prints for each the functions with the most inclusive
share of the *active* samples (a thread waiting on a lock, a queue or a socket is not active).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "benchmarks")]

from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS, MAIN_SCRIPT, StreamlitServer  # noqa: E402
from participant_walk import TIMEOUT_MS, Click, walk  # noqa: E402
from server_stats import cpu_seconds, percentile  # noqa: E402

REFERENCE_SCRIPT = ROOT / "benchmarks" / "reference_app.py"
DEMO_CACHE = ROOT / "demo" / "cache"
THINK_S, UTILISATION = 10.0, 0.70
GOALS = {"cpu": 1.25, "settled_p95": 1.5, "images_p95": 1.5}


@dataclass
class AppResult:
    name: str
    clicks: int = 0
    cpu_s: float = 0.0
    settled: list[float] = field(default_factory=list)
    images: list[float] = field(default_factory=list)
    rss_mib: dict[str, float] = field(default_factory=dict)
    walk_cpu_per_click: list[float] = field(default_factory=list)

    @property
    def cpu_per_click(self) -> float:
        return self.cpu_s / max(1, self.clicks)


def start_profiler(pid: int, output: Path) -> subprocess.Popen:
    spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                            "--format", "raw", "--rate", "200", "--output", str(output), "--nonblocking"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(1.0)
    return spy


async def one_walk(browser, server: StreamlitServer, result: AppResult) -> None:
    """One measured participant; the server's CPU time over exactly this walk is added to ``result``."""

    def record(click: Click) -> None:
        result.clicks += 1
        result.settled.append(click.settled_s)
        result.images.append(click.images_s)

    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    clicks0, cpu0 = result.clicks, cpu_seconds(server.process.pid)
    await walk(page, server.url, on_click=record)
    cpu = cpu_seconds(server.process.pid) - cpu0
    await context.close()
    result.cpu_s += cpu
    result.walk_cpu_per_click.append(cpu / max(1, result.clicks - clicks0))


async def measure(browser, servers: dict[str, StreamlitServer], walks: int, profile: Path | None) -> dict:
    """Warm both servers up, then alternate their measured walks (demo, reference, demo, ...), so that
    whatever else the machine does drifts over both alike; each walk is paired with the other app's next."""
    results = {name: AppResult(name) for name in servers}
    for name, server in servers.items():
        warm = await browser.new_context(viewport={"width": 1280, "height": 1400})
        await walk(await warm.new_page(), server.url)  # warm-up participant: imports, models, map cache
        await warm.close()
        results[name].rss_mib["before"] = server.rss_bytes() / 2**20
    spies = [] if profile is None else [start_profiler(s.process.pid, profile / f"{n}.txt") for n, s in servers.items()]
    for i in range(walks):
        for name, server in servers.items():
            print(f"  walk {i + 1}/{walks}: {name}", flush=True)
            await one_walk(browser, server, results[name])
    for name, server in servers.items():
        results[name].rss_mib["after"] = server.rss_bytes() / 2**20
    for spy in spies:
        spy.send_signal(2)
        spy.wait(timeout=60)
    return results


# Leaf frames of a thread that waits rather than works (py-spy's --nonblocking mode cannot tell idle threads).
WAITING = ("Condition.wait", "Queue.get", "select (selectors", "polling_path_watcher.py:90", "thread.py:81)")
PLUMBING = ("threading.py", "runpy", "bootstrap.py", "click/core.py", "streamlit/web/cli.py", "asyncio/runners.py",
            "base_events.py", "__main__.py")


def top_frames(collapsed: Path, limit: int = 30) -> list[tuple[str, float]]:
    """Functions by inclusive share of the active samples in py-spy's collapsed-stack output."""
    inclusive, total = Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or any(w in frames[-1] for w in WAITING):
            continue
        total += int(count)
        for frame in {f for f in frames if not any(p in f for p in PLUMBING)}:
            name, _, where = frame.partition(" (")
            inclusive[f"{name} ({where.split(':')[0].rsplit('/', 1)[-1]}"] += int(count)
    return [(frame, n / max(1, total)) for frame, n in inclusive.most_common(limit)]


def report(demo: AppResult, ref: AppResult) -> bool:
    def row(label, d, r, fmt, goal=None):
        ratio = d / r if r else float("nan")
        verdict = "" if goal is None else ("  ok" if ratio <= goal else f"  over the {goal}x goal")
        print(f"{label:<34}{fmt.format(d):>12}{fmt.format(r):>12}{ratio:>9.2f}x{verdict}")

    print(f"\n{'':<34}{'demo':>12}{'reference':>12}{'ratio':>10}")
    print(f"{'clicks measured':<34}{demo.clicks:>12}{ref.clicks:>12}")
    row("server CPU per click (ms)", demo.cpu_per_click * 1000, ref.cpu_per_click * 1000, "{:.1f}", GOALS["cpu"])
    row("click -> settled median (ms)", statistics.median(demo.settled) * 1000,
        statistics.median(ref.settled) * 1000, "{:.0f}")
    row("click -> settled p95 (ms)", percentile(demo.settled, 95) * 1000, percentile(ref.settled, 95) * 1000,
        "{:.0f}", GOALS["settled_p95"])
    row("click -> images loaded p95 (ms)", percentile(demo.images, 95) * 1000, percentile(ref.images, 95) * 1000,
        "{:.0f}", GOALS["images_p95"])
    for key in ("before", "after"):
        row(f"server RSS {key} (MiB)", demo.rss_mib[key], ref.rss_mib[key], "{:.0f}")
    paired = sorted(d / r for d, r in zip(demo.walk_cpu_per_click, ref.walk_cpu_per_click, strict=True))
    print(f"{'CPU ratio of paired walks':<34}{'':>24}{statistics.median(paired):>9.2f}x  median; range "
          f"{paired[0]:.2f}-{paired[-1]:.2f}x over {len(paired)} pairs")
    per_core = UTILISATION * THINK_S / demo.cpu_per_click
    print(f"\nparticipants one core carries (demo, {THINK_S:.0f} s think time, {UTILISATION:.0%} busy): "
          f"{per_core:.0f}")
    ratios = (demo.cpu_per_click / ref.cpu_per_click,
              percentile(demo.settled, 95) / percentile(ref.settled, 95),
              percentile(demo.images, 95) / percentile(ref.images, 95))
    return all(r <= g for r, g in zip(ratios, GOALS.values(), strict=True))


async def run_both(args, folder: Path, demo_env: dict) -> dict[str, AppResult]:
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        print(f"demo and reference: {args.walks} participant walk(s) each, alternating ...", flush=True)
        with StreamlitServer(demo_env, folder / "demo.log", script=MAIN_SCRIPT) as demo, \
                StreamlitServer({}, folder / "reference.log", script=REFERENCE_SCRIPT) as reference:
            results = await measure(browser, {"demo": demo, "reference": reference}, args.walks, args.profile)
        await browser.close()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walks", type=int, default=2, help="measured participants per app (default 2)")
    parser.add_argument("--profile", type=Path, default=None, help="folder for py-spy profiles of both servers")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="xai_click_cost_"))
    cache = folder / "cache"
    shutil.copytree(DEMO_CACHE, cache)  # the demo reads its committed cache; a copy keeps the repo untouched
    demo_env = {"XAI_STUDY_DB_URL": f"sqlite:///{folder / 'responses.sqlite'}", "XAI_STUDY_CACHE": str(cache),
                "XAI_STUDY_FILE": "", "XAI_STUDY_RESEARCHER_PASSWORD": "click-cost-benchmark"}
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    results = asyncio.run(run_both(args, folder, demo_env))
    ok = report(results["demo"], results["reference"])
    for name, result in results.items():
        collapsed = None if args.profile is None else args.profile / f"{name}.txt"
        if collapsed is not None and collapsed.exists():
            active_ms = result.cpu_per_click * 1000
            print(f"\n{name} server: functions by inclusive share of active samples, ms per click of its "
                  f"{active_ms:.1f} ms CPU ({collapsed}):")
            for frame, share in top_frames(collapsed):
                print(f"  {share:6.1%} {share * active_ms:6.1f} ms  {frame}")
    print(f"\nserver logs: {folder}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
