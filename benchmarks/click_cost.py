"""What one participant click costs the server: the bundled demo against a reference app that computes nothing.

    python benchmarks/click_cost.py                   # two walks per app
    python benchmarks/click_cost.py --walks 4 --profile profile.txt

Two ``streamlit run`` servers, both from the project root with the project's own ``.streamlit/config.toml``:
the bundled demo (``study_app/main.py`` on its committed cache, a fresh SQLite database) and
``benchmarks/reference_app.py`` (the same kinds of screens, widgets and pictures, one script run per click,
nothing computed). One Chromium participant at a time walks each app from consent to the completion code,
answering every radio, text box and selectbox, and clicking the screen's primary button. Per app it prints:

* server CPU seconds per click: the server process's own CPU time (``/proc/PID/stat``, all threads) over
  the measured walks, divided by their clicks, so the browser's CPU is not in it;
* click -> settled (median, p95): from the click until the next screen's content is on the page and
  Streamlit reports the script run finished with no stale element left;
* click -> every image loaded (p95): until each ``<img>`` on the new screen has decoded;
* server memory (RSS) before and after the measured walks;

and the ratios demo / reference, with the goals (<= 1.25x CPU, <= 1.5x on both p95s), and how many
participants one core carries at a 10 s think time and 70 % utilisation. The first page load of each
server (imports, models, cache warm-up) is excluded: a warm-up participant opens each app first.

``--profile FILE`` samples the demo server with py-spy during its measured walks and writes the collapsed
stacks to FILE and the functions with the most inclusive samples to stdout.
"""

from __future__ import annotations

import argparse
import os
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
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from e2e.browser_steps import SETTLED_JS  # noqa: E402
from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS, MAIN_SCRIPT, StreamlitServer  # noqa: E402

REFERENCE_SCRIPT = ROOT / "benchmarks" / "reference_app.py"
DEMO_CACHE = ROOT / "demo" / "cache"
TIMEOUT_MS = 120_000
THINK_S, UTILISATION = 10.0, 0.70
GOALS = {"cpu": 1.25, "settled_p95": 1.5, "images_p95": 1.5}

PRIMARY = "[data-testid='stBaseButton-primaryFormSubmit'], [data-testid='stBaseButton-primary']"
QUIET_MS = 1000  # a screen counts as settled once it stayed settled this long (a rerun can follow a run)
# Resolves with the performance.now() at which the new screen settled (its text differs from ``before``,
# no script run is going on, no stale element is left) and then stayed so for ``quiet`` ms.
SETTLED_AT_JS = """([before, quiet]) => new Promise(resolve => {
    let since = null;
    const tick = () => {
        const app = document.querySelector('[data-testid="stApp"]');
        const main = document.querySelector('[data-testid="stMain"]');
        const ok = app !== null && main !== null && main.innerText !== before
            && app.dataset.testScriptState === 'notRunning'
            && document.querySelectorAll('[data-stale="true"]').length === 0;
        const now = performance.now();
        if (!ok) since = null;
        else if (since === null) since = now;
        else if (now - since >= quiet) return resolve(since);
        setTimeout(tick, 5);
    };
    tick();
})"""
# Resolves once every picture on the screen has decoded, with the latest load end of a picture requested
# since ``t0`` (0 when all came from the browser's cache).
IMAGES_AT_JS = """([t0]) => new Promise(resolve => {
    const tick = () => {
        const imgs = [...document.querySelectorAll("[data-testid='stMain'] img")];
        if (imgs.every(i => i.complete && i.naturalWidth > 0)) {
            const ends = performance.getEntriesByType('resource')
                .filter(e => e.initiatorType === 'img' && e.startTime >= t0).map(e => e.responseEnd);
            return resolve(Math.max(0, ...ends));
        }
        setTimeout(tick, 5);
    };
    tick();
})"""
IMAGES_JS = "() => [...document.querySelectorAll(\"[data-testid='stMain'] img\")].every(i => i.complete && i.naturalWidth > 0)"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` (all its threads), from ``/proc/PID/stat``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


@dataclass
class AppResult:
    name: str
    clicks: int = 0
    cpu_s: float = 0.0
    settled: list[float] = field(default_factory=list)
    images: list[float] = field(default_factory=list)
    rss_mib: dict[str, float] = field(default_factory=dict)

    @property
    def cpu_per_click(self) -> float:
        return self.cpu_s / max(1, self.clicks)


def answer_screen(page, n: int) -> None:
    """Answer whatever the screen asks: every radio group, text box and selectbox (different choices per
    screen, as a person would)."""
    groups = page.get_by_role("radiogroup")
    for g in range(groups.count()):
        labels = groups.nth(g).locator("label")
        labels.nth((n + g) % labels.count()).click()
    boxes = page.locator("[data-testid='stMain'] textarea")
    for b in range(boxes.count()):
        boxes.nth(b).fill(f"answer {n}")
    selects = page.get_by_role("combobox")
    for s in range(selects.count()):
        selects.nth(s).click()
        options = page.get_by_role("option")
        options.nth(s % options.count()).click()


def walk(page, url: str, result: AppResult | None) -> None:
    """One participant from the first screen to the end; records each click into ``result``."""
    page.goto(url)
    page.locator(PRIMARY).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)
    page.wait_for_function(IMAGES_JS, timeout=TIMEOUT_MS)
    for n in range(100):
        button = page.locator(PRIMARY)
        if button.count() == 0:
            return
        answer_screen(page, n)
        before = page.inner_text("[data-testid='stMain']")
        start = page.evaluate("performance.now()")
        button.first.click()
        settled = page.evaluate(SETTLED_AT_JS, [before, QUIET_MS])
        loaded = max(settled, page.evaluate(IMAGES_AT_JS, [start]))
        if page.get_by_text("Please answer").count():
            page.screenshot(path=str(Path(tempfile.gettempdir()) / "click_cost_refused.png"), full_page=True)
            raise RuntimeError(f"screen {n} refused the walker's answers (screenshot in {tempfile.gettempdir()})")
        if result is not None:
            result.clicks += 1
            result.settled.append((settled - start) / 1000)
            result.images.append((loaded - start) / 1000)
    raise RuntimeError("no end after 100 screens")


def measure(browser, server: StreamlitServer, name: str, walks: int, profile: Path | None) -> AppResult:
    warm = browser.new_context(viewport={"width": 1280, "height": 1400})
    walk(warm.new_page(), server.url, None)  # warm-up participant: imports, models, map cache
    warm.close()
    result = AppResult(name)
    pid = server.process.pid
    result.rss_mib["before"] = server.rss_bytes() / 2**20
    spy = None
    if profile is not None:
        spy = subprocess.Popen([str(Path(sys.executable).with_name("py-spy")), "record", "--pid", str(pid),
                                "--format", "raw", "--rate", "200", "--output", str(profile), "--nonblocking"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
    cpu0 = cpu_seconds(pid)
    for _ in range(walks):
        context = browser.new_context(viewport={"width": 1280, "height": 1400})
        page = context.new_page()
        page.set_default_timeout(TIMEOUT_MS)
        walk(page, server.url, result)
        context.close()
    result.cpu_s = cpu_seconds(pid) - cpu0
    result.rss_mib["after"] = server.rss_bytes() / 2**20
    if spy is not None:
        spy.send_signal(2)
        spy.wait(timeout=60)
    return result


def top_frames(collapsed: Path, limit: int = 25) -> list[tuple[str, float]]:
    """Functions by inclusive share of the samples in py-spy's collapsed-stack output."""
    inclusive, total = Counter(), 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        total += int(count)
        for frame in set(stack.split(";")):
            inclusive[frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].rsplit("/", 1)[-1]] += int(count)
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
    per_core = UTILISATION * THINK_S / demo.cpu_per_click
    print(f"\nparticipants one core carries (demo, {THINK_S:.0f} s think time, {UTILISATION:.0%} busy): "
          f"{per_core:.0f}")
    ratios = (demo.cpu_per_click / ref.cpu_per_click,
              percentile(demo.settled, 95) / percentile(ref.settled, 95),
              percentile(demo.images, 95) / percentile(ref.images, 95))
    return all(r <= g for r, g in zip(ratios, GOALS.values(), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--walks", type=int, default=2, help="measured participants per app (default 2)")
    parser.add_argument("--profile", type=Path, default=None, help="py-spy collapsed stacks of the demo server")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    folder = Path(tempfile.mkdtemp(prefix="xai_click_cost_"))
    cache = folder / "cache"
    shutil.copytree(DEMO_CACHE, cache)  # the demo reads its committed cache; a copy keeps the repo untouched
    demo_env = {"XAI_STUDY_DB_URL": f"sqlite:///{folder / 'responses.sqlite'}", "XAI_STUDY_CACHE": str(cache),
                "XAI_STUDY_FILE": "", "XAI_STUDY_RESEARCHER_PASSWORD": "click-cost-benchmark"}
    results = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        for name, script, env, profile in (("demo", MAIN_SCRIPT, demo_env, args.profile),
                                           ("reference", REFERENCE_SCRIPT, {}, None)):
            print(f"{name}: {args.walks} participant walk(s) ...", flush=True)
            with StreamlitServer(env, folder / f"{name}.log", script=script) as server:
                results[name] = measure(browser, server, name, args.walks, profile)
        browser.close()
    ok = report(results["demo"], results["reference"])
    if args.profile is not None and args.profile.exists():
        print(f"\ndemo server, functions by inclusive share of samples ({args.profile}):")
        for frame, share in top_frames(args.profile):
            print(f"  {share:6.1%}  {frame}")
    print(f"\nserver logs: {folder}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
