"""Load test: one ``streamlit run`` server, N concurrent participants in real browser contexts.

    python benchmarks/load_test.py                  # 10 participants on a generated test study
    python benchmarks/load_test.py --participants 20 --trials 6

Builds a small verification study (the test suite's tiny real ResNet18 at 32 px, generated stimuli,
attribution cache precomputed) unless ``--study`` names one (verification protocol; its cache should be
precomputed), starts the server with page-build timing on (``XAI_STUDY_TIMING=1``), sends one participant
to a cold server, waits until the server has rendered the cached maps into memory, sends one participant
alone (the unloaded, warm figures), then drives N Chromium contexts through full study runs at once.
Prints:

* completion rate;
* p50 / p95 time from clicking an answer's submit button to the next trial being shown and settled
  (browser-side, so it includes the websocket round trip and rendering);
* server-side build time of trial pages from the warm cache (the server's own log, runs that only draw a
  trial; target p95 <= 50 ms), unloaded (warm-up participant) and under load;
* the server's memory (RSS) at start, after warm-up, peak and end.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS, StreamlitServer  # noqa: E402
from e2e.study_setup import E2EStudy, make_e2e_study, server_env  # noqa: E402

TIMEOUT_MS = 180_000
SETTLED_JS = """() => {
    const app = document.querySelector('[data-testid="stApp"]');
    return app !== null && app.dataset.testScriptState === 'notRunning'
        && document.querySelectorAll('[data-stale="true"]').length === 0;
}"""
BUILD_LINE = re.compile(r"page_built kind=(\w+) submitted=(\d) ms=([\d.]+)")


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))]


async def settled(page, text: str) -> None:
    await page.get_by_text(text, exact=False).first.wait_for(state="visible", timeout=TIMEOUT_MS)
    await page.wait_for_function(SETTLED_JS, timeout=TIMEOUT_MS)


async def choose(page, group: str, index: int = 0) -> None:
    radios = page.get_by_role("radiogroup", name=group)
    await radios.locator("label").nth(index).click()
    await radios.get_by_role("radio").nth(index).wait_for(state="attached")
    if not await radios.get_by_role("radio").nth(index).is_checked():
        raise RuntimeError(f"could not choose option {index} of {group!r}")


async def participant(browser, url: str, n_trials: int, seed: int, latencies: list[float]) -> bool:
    context = await browser.new_context(viewport={"width": 1000, "height": 900})
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        await page.goto(url)
        await settled(page, "I agree")
        await page.get_by_role("button", name="I agree — start the study").click()
        await settled(page, "A few questions about you")
        for group in ("What is your age?", "How much experience do you have with machine learning?",
                      "How familiar are you with the kind of images in this study?"):
            await choose(page, group, seed % 2)
        await page.get_by_role("button", name="Continue").click()
        await settled(page, "I understand — begin")
        await page.get_by_role("button", name="I understand — begin").click()
        for k in range(1, n_trials + 1):
            await settled(page, f"Image {k} of {n_trials}")
            await choose(page, "Is the model's prediction correct?", (seed + k) % 2)
            await choose(page, "How confident are you?", (seed + k) % 7)
            start = time.perf_counter()
            await page.get_by_role("button", name="Continue").click()
            await settled(page, f"Image {k + 1} of {n_trials}" if k < n_trials else "Thank you!")
            latencies.append(time.perf_counter() - start)
        return True
    except Exception as exc:  # noqa: BLE001 - a failed participant is a data point, not a crash
        print(f"participant {seed} failed: {type(exc).__name__}: {str(exc)[:200]}", file=sys.stderr)
        return False
    finally:
        await context.close()


async def sample_rss(server: StreamlitServer, samples: list[int], stop: asyncio.Event) -> None:
    while not stop.is_set():
        samples.append(server.rss_bytes())
        try:
            await asyncio.wait_for(stop.wait(), timeout=0.5)
        except TimeoutError:
            pass


async def wait_for_log(server: StreamlitServer, text: str, timeout: float = 600) -> None:
    deadline = time.monotonic() + timeout
    while text not in server.log_text():
        if time.monotonic() > deadline:
            raise TimeoutError(f"server log never said {text!r}")
        await asyncio.sleep(0.5)


def trial_build_times(log: str) -> list[float]:
    """Server-side ms of runs that drew a trial page without storing an answer (the page a participant
    waits for after submitting)."""
    return [float(ms) for kind, submitted, ms in BUILD_LINE.findall(log) if kind == "trial" and submitted == "0"]


def in_process_build_times(setup: E2EStudy, reruns: int = 60) -> list[float]:
    """Server-side build time of one warm trial page without any browser competing for the CPU: the
    page script run in-process (Streamlit's AppTest), rerun ``reruns`` times after a first visit."""
    import os

    from streamlit.testing.v1 import AppTest

    os.environ.update({k: v for k, v in server_env(setup).items() if k.startswith("XAI_STUDY")})
    at = AppTest.from_file(str(ROOT / "study_app" / "main.py"), default_timeout=120).run()
    at.button(key="consent_agree").click().run()
    for radio in at.radio:
        radio.set_value(radio.options[0] if not radio.options[0].isdigit() else int(radio.options[0]))
    at.button[0].click().run()
    at.button(key="instructions_begin").click().run()
    assert any(s.value.startswith("Image 1") for s in at.subheader), "did not reach the first trial"
    at.run()  # first visit renders and caches; the reruns below are the warm builds
    times = []
    for _ in range(reruns):
        start = time.perf_counter()
        at.run()
        times.append((time.perf_counter() - start) * 1000)
    return times


async def main_async(args) -> int:
    from playwright.async_api import async_playwright

    folder = Path(tempfile.mkdtemp(prefix="xai_load_"))
    if args.study:
        from study_app.study import load_study

        setup = E2EStudy(study_file=Path(args.study).resolve(), db_path=folder / "responses.sqlite",
                         cache_dir=Path(args.cache).resolve() if args.cache else folder / "cache")
        args.trials = sum(t.trials + t.attention_checks for t in load_study(setup.study_file).tasks)
    else:
        print(f"building a {args.trials}-trial test study and precomputing its maps in {folder} ...")
        setup = make_e2e_study(folder, trials=args.trials, cache_dir=Path(args.cache).resolve() if args.cache else None)
    quiet = in_process_build_times(setup)
    env = {**server_env(setup), "XAI_STUDY_TIMING": "1"}
    with StreamlitServer(env, folder / "server.log") as server:
        rss = {"start": server.rss_bytes()}
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            cold: list[float] = []
            if not await participant(browser, server.url, args.trials, seed=0, latencies=cold):
                print("the first participant failed; see", folder / "server.log", file=sys.stderr)
                return 1
            await wait_for_log(server, "maps ready in memory")
            n_cold = len(trial_build_times(server.log_text()))
            warm: list[float] = []
            await participant(browser, server.url, args.trials, seed=99, latencies=warm)
            unloaded_builds = trial_build_times(server.log_text())[n_cold:]
            rss["after warm-up"] = server.rss_bytes()
            samples: list[int] = []
            stop = asyncio.Event()
            sampler = asyncio.create_task(sample_rss(server, samples, stop))
            latencies: list[float] = []
            started = time.perf_counter()
            results = await asyncio.gather(*(participant(browser, server.url, args.trials, seed=i, latencies=latencies)
                                             for i in range(1, args.participants + 1)))
            wall = time.perf_counter() - started
            stop.set()
            await sampler
            await browser.close()
        rss["peak"] = max(samples, default=0)
        rss["end"] = server.rss_bytes()
        loaded_builds = trial_build_times(server.log_text())[n_cold + len(unloaded_builds):]

    mib = 1024 * 1024
    done = sum(results)
    print()
    print(f"participants            {args.participants} concurrent browser contexts, {args.trials} trials each")
    print(f"completion rate         {done}/{args.participants} = {done / args.participants:.0%} in {wall:.1f} s")
    print(f"submit -> next trial    p50 {percentile(latencies, 50) * 1000:.0f} ms   "
          f"p95 {percentile(latencies, 95) * 1000:.0f} ms   (n={len(latencies)}; unloaded p50 "
          f"{percentile(warm, 50) * 1000:.0f} ms, first participant on a cold server {percentile(cold, 50) * 1000:.0f} ms)")
    for name, builds in (("unloaded", unloaded_builds), ("under load", loaded_builds)):
        print(f"trial page build        {name:<11} p50 {percentile(builds, 50):.1f} ms   "
              f"p95 {percentile(builds, 95):.1f} ms   (n={len(builds)}, server side, warm cache; target p95 <= 50)")
    print(f"trial page build        in-process  p50 {percentile(quiet, 50):.1f} ms   p95 {percentile(quiet, 95):.1f} ms"
          f"   (n={len(quiet)}, same page script, no browsers competing for the CPU)")
    print("server memory (RSS)     " + "   ".join(f"{k} {v / mib:.0f} MiB" for k, v in rss.items())
          + f"   growth during load {(rss['end'] - rss['after warm-up']) / mib:+.0f} MiB")
    print(f"server log              {folder / 'server.log'}")
    return 0 if done == args.participants else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=10, help="concurrent browser contexts (default 10)")
    parser.add_argument("--trials", type=int, default=4, help="trials per participant for the generated study")
    parser.add_argument("--study", default=None, help="a verification study file instead of the generated one")
    parser.add_argument("--cache", default=None,
                        help="attribution cache folder (reused between runs; default: a fresh one)")
    return asyncio.run(main_async(parser.parse_args()))


if __name__ == "__main__":
    sys.exit(main())
