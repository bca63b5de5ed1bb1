"""Load test: a launch-day crowd of participants who read before they click, through the real proxy.

    python benchmarks/load_test.py                                   # 50 participants, 2 replicas, PostgreSQL
    python benchmarks/load_test.py --participants 20 --replicas 1 --db sqlite
    python benchmarks/load_test.py --think 0 0 --arrivals 0          # everyone at once, no reading time
    python benchmarks/load_test.py --participants 8 --think 1 3 --arrivals 10   # a quick look (~8 min)

The bundled demo study (on a copy of its committed cache) is served exactly as ``xai-study serve`` serves
it: N ``streamlit run`` replicas behind HAProxy (cookie affinity, health checks) on one database: a fresh
PostgreSQL database created for the run (``--pg``, default ``$XAI_STUDY_TEST_PG_URL``, a role that may
create databases) and dropped after it, or SQLite with one replica. A warm-up participant walks each
replica first (imports, models, map cache). Then the participants arrive at random within ``--arrivals``
seconds, each in their own Chromium context, and walk the study from consent to the completion code,
pausing a random 5-15 s (``--think``) on every screen before answering, as people do; a screen that asks
for its answers again is answered again (counted and printed).

The crowd comes twice, one after the other, on the same replicas. First its browsers get Streamlit's own
files (``/static/``: about 5 MB of JavaScript, CSS and fonts per new browser) from the benchmark itself,
out of the installed Streamlit folder, so the servers see only what the clicks cost ("without browser
downloads"); then a second crowd of as many participants loads everything through the proxy, as real
browsers do. Both phases print their server CPU per click, and the ratio of the two tells what new browsers
add (the goal: at most 1.2x; the proxy caches ``/static/``, see ``study_app/serve/haproxy.py``). HAProxy's
log tells how many static requests its cache answered and how many reached a replica.

Per phase it prints completion, lost and duplicated answers (every click a participant saw acknowledged, counted
against the database), p50 / p95 click -> next screen settled and -> all images loaded, each replica's
CPU seconds and CPU per click (from ``/proc``: the browsers share the cores, so only the servers' own CPU
time tells what a server carries), HAProxy's CPU, and each replica's memory at start, peak and end with
the growth over the run. Exits non-zero unless every participant finished with nothing lost or duplicated.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT), str(ROOT / "benchmarks")]

import streamlit  # noqa: E402
from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from participant_walk import TIMEOUT_MS, Click, think_times, walk  # noqa: E402
from server_stats import cpu_seconds, percentile, rss_mib  # noqa: E402

DEMO_STUDY = ROOT / "demo" / "study.toml"
DEMO_CACHE = ROOT / "demo" / "cache"
SAMPLE_S = 2.0
RETRIES = 2  # a participant whose answers the app asks for again answers once more, as a person would
STREAMLIT_STATIC = Path(streamlit.__file__).parent / "static"  # what Streamlit serves under /static/
CPU_GOAL = 1.2  # server CPU per click with browser downloads / without
PHASES = {"harness": "without browser downloads (Streamlit's files from the benchmark)",
          "servers": "with browser downloads (everything through the proxy)"}


@dataclass
class Participant:
    seed: int
    clicks: list[Click] = field(default_factory=list)
    token: str | None = None
    error: str | None = None


@dataclass
class Memory:
    samples: dict[str, list[float]] = field(default_factory=dict)


async def from_harness(route) -> None:
    """Answer a request for one of Streamlit's files from the installed folder (the servers never see it)."""
    relative = route.request.url.split("/static/", 1)[1].split("?", 1)[0]
    path = STREAMLIT_STATIC / "static" / relative
    if path.is_file() and STREAMLIT_STATIC in path.resolve().parents:
        await route.fulfill(path=path, headers={"Cache-Control": "public, immutable, max-age=31536000"})
    else:
        await route.continue_()


async def one_participant(browser, url: str, who: Participant, think: tuple[float, float], delay: float,
                          static_from_harness: bool) -> None:
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
    if static_from_harness:
        await context.route("**/static/**", from_harness)
    page = await context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    try:
        pause = think_times(*think, seed=who.seed) if think[1] > 0 else None
        who.token = await walk(page, url, think=pause, on_click=who.clicks.append, retries=RETRIES)
    except Exception as exc:  # noqa: BLE001 - a failed participant is a data point, not a crash
        who.error = f"{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        await context.close()


async def sample_memory(pids: dict[str, int], memory: Memory, stop: asyncio.Event) -> None:
    while not stop.is_set():
        for name, pid in pids.items():
            memory.samples.setdefault(name, []).append(rss_mib(pid))
        try:
            await asyncio.wait_for(stop.wait(), timeout=SAMPLE_S)
        except TimeoutError:
            pass


def stored_counts(db_url: str, tokens: list[str]) -> tuple[Counter, Counter]:
    """Per token: the screens whose answer the database acknowledges (the consent, which enrols, plus one
    "answer" event per later screen), and the rows stored more than once (the same trial step or
    questionnaire item twice)."""
    from study_app.store import Repository, make_engine  # noqa: PLC0415
    from study_app.study import load_study  # noqa: PLC0415

    study = load_study(DEMO_STUDY, check_images=False)
    repo = Repository(make_engine(db_url))
    try:
        record = next(r for r in repo.studies(study.id) if r.file_sha256 == study.sha256)
        ids = {}
        for token in tokens:
            participant = repo.participant_by_token(token)
            if participant is not None:
                ids[participant.id] = token
        screens, duplicates, rows = Counter(), Counter(), Counter()
        for event in repo.events(record.id):
            if event.participant_id in ids and event.kind in ("consent", "answer"):
                screens[ids[event.participant_id]] += 1
        for r in repo.responses(record.id):
            rows[(r.participant_id, "trial", r.trial_index, r.phase)] += 1
        for q in repo.questionnaire_answers(record.id):
            rows[(q.participant_id, q.questionnaire, q.question_id)] += 1
        for key, n in rows.items():
            if key[0] in ids:
                duplicates[ids[key[0]]] += n - 1
        return screens, duplicates
    finally:
        repo.dispose()


def create_database(admin_url: str) -> tuple[str, str]:
    """A fresh PostgreSQL database on the admin URL's server; returns (its URL, its name)."""
    from sqlalchemy import create_engine, text  # noqa: PLC0415
    from sqlalchemy.engine import make_url  # noqa: PLC0415

    name = f"xai_load_{secrets.token_hex(4)}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False), name


def drop_database(admin_url: str, name: str) -> None:
    from sqlalchemy import create_engine, text  # noqa: PLC0415

    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


@dataclass
class Phase:
    """One crowd: its participants, wall time, CPU seconds per process, and HAProxy's count of static
    requests by who answered them ("<CACHE>" or a replica)."""

    name: str
    crowd: list[Participant]
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    static: Counter = field(default_factory=Counter)

    @property
    def clicks(self) -> list[Click]:
        return [c for w in self.crowd for c in w.clicks]

    def server_cpu_per_click(self) -> float:
        return sum(v for k, v in self.cpu.items() if k != "haproxy") / max(1, len(self.clicks))


def static_answers(log: Path, skip: int) -> tuple[Counter, int]:
    """Who answered the ``/static/`` requests in HAProxy's log after its first ``skip`` lines (httplog:
    ``backend/server`` then, later, ``"GET /static/..."``); returns the counts and the log's line count."""
    text = log.read_text(errors="replace").splitlines() if log.exists() else []
    counts = Counter()
    for line in text[skip:]:
        if '"GET /static/' in line:
            server = next((f.split("/", 1)[1] for f in line.split() if f.startswith("streamlit/")), "?")
            counts["proxy cache" if server == "<CACHE>" else "replicas"] += 1
    return counts, len(text)


async def crowd_walks(args, browser, deployment, pids: dict[str, int], name: str, seed: int) -> Phase:
    rng = random.Random(seed)
    phase = Phase(name, [Participant(seed=seed * 1000 + i) for i in range(args.participants)])
    _, skip = static_answers(deployment.proxy_log, 0)
    print(f"{name}: {args.participants} participants {PHASES[name]}, arriving within {args.arrivals:.0f} s, "
          f"thinking {args.think[0]:.0f}-{args.think[1]:.0f} s per screen ...", flush=True)
    cpu0 = {k: cpu_seconds(pid) for k, pid in pids.items()}
    started = time.perf_counter()
    await asyncio.gather(*(one_participant(browser, deployment.url, who, tuple(args.think),
                                           rng.uniform(0, args.arrivals), name == "harness") for who in phase.crowd))
    phase.wall = time.perf_counter() - started
    phase.cpu = {k: cpu_seconds(pid) - cpu0[k] for k, pid in pids.items()}
    phase.static, _ = static_answers(deployment.proxy_log, skip)
    return phase


async def run(args, db_url: str, folder: Path) -> int:
    from playwright.async_api import async_playwright  # noqa: PLC0415

    from study_app.serve.launcher import Deployment  # noqa: PLC0415

    cache = folder / "cache"
    shutil.copytree(DEMO_CACHE, cache)  # the replicas read a copy: a run never writes into the repository
    env = {"XAI_STUDY_CACHE": str(cache), "XAI_STUDY_RESEARCHER_PASSWORD": "load-test"}
    print(f"starting {args.replicas} replica(s) + HAProxy on {db_url.split('@')[-1]} ...", flush=True)
    with Deployment(DEMO_STUDY, db_url, replicas=args.replicas, env=env, log_dir=folder / "logs",
                    cwd=ROOT, quiet=True) as deployment:
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            for replica in deployment.replicas:  # warm-up: one participant straight to each replica
                context = await browser.new_context(viewport={"width": 1280, "height": 1400})
                await walk(await context.new_page(), replica.url)
                await context.close()
            pids = {r.name: r.pid for r in deployment.replicas}
            pids["haproxy"] = deployment.proxy.pid
            memory, stop = Memory(), asyncio.Event()
            sampler = asyncio.create_task(sample_memory(pids, memory, stop))
            phases = [await crowd_walks(args, browser, deployment, pids, name, args.seed + k)
                      for k, name in enumerate(args.phases)]
            stop.set()
            await sampler
            await browser.close()
        alive = {r.name: r.alive() for r in deployment.replicas}
    ok = all(report(args, phase, db_url, alive) for phase in phases)
    compare(phases)
    for name, values in memory.samples.items():
        if name != "haproxy" and values:
            print(f"memory {name:<16} start {values[0]:.0f} MiB   peak {max(values):.0f} MiB   end {values[-1]:.0f} "
                  f"MiB   growth {values[-1] - values[0]:+.0f} MiB over the run")
    return 0 if ok else 1


def report(args, phase: Phase, db_url: str, alive: dict[str, bool]) -> bool:
    crowd, wall, cpu = phase.crowd, phase.wall, phase.cpu
    done = [w for w in crowd if w.error is None and w.token]
    tokens = [w.token for w in done]
    screens, duplicates = stored_counts(db_url, tokens)
    acknowledged = {w.token: sum(not c.refused for c in w.clicks) for w in done}  # clicks that moved them on
    refused = sum(c.refused for w in crowd for c in w.clicks)
    lost = sum(max(0, acknowledged[t] - screens[t]) for t in tokens)
    dup = sum(duplicates.values()) + sum(max(0, screens[t] - acknowledged[t]) for t in tokens)
    clicks = phase.clicks
    settled = [c.settled_s * 1000 for c in clicks]
    images = [c.images_s * 1000 for c in clicks]
    replicas = [name for name in cpu if name != "haproxy"]
    server_cpu = sum(cpu[n] for n in replicas)
    print()
    print(f"== {phase.name}: {PHASES[phase.name]}")
    print(f"participants            {args.participants} on {args.replicas} replica(s) behind HAProxy, think "
          f"{args.think[0]:.0f}-{args.think[1]:.0f} s, arrivals within {args.arrivals:.0f} s; {wall:.0f} s in all")
    print(f"completed               {len(done)}/{args.participants} = {len(done) / args.participants:.0%}")
    for w in crowd:
        if w.error:
            print(f"  participant {w.seed} failed: {w.error}")
    print(f"answers                 {sum(acknowledged.values())} clicks acknowledged; lost {lost}, duplicated {dup}"
          f" (counted in the database); {refused} submissions refused and answered again")
    print(f"click -> settled        p50 {percentile(settled, 50):.0f} ms   p95 {percentile(settled, 95):.0f} ms"
          f"   (n={len(settled)})")
    print(f"click -> images loaded  p50 {percentile(images, 50):.0f} ms   p95 {percentile(images, 95):.0f} ms")
    for name in replicas:
        print(f"replica {name:<15} CPU {cpu[name]:6.1f} s   ({cpu[name] / wall:.0%} of one core)   alive at end: "
              f"{alive[name]}")
    print(f"all replicas            CPU {server_cpu:6.1f} s = {server_cpu / max(1, len(clicks)) * 1000:.1f} ms per click"
          f" -> one core carries about {0.7 * 10 / max(1e-9, server_cpu / max(1, len(clicks))):.0f} participants"
          " at a 10 s think time and 70 % utilisation")
    print(f"haproxy                 CPU {cpu['haproxy']:6.1f} s")
    print(f"static requests         {phase.static['proxy cache']} from the proxy's cache, "
          f"{phase.static['replicas']} from the replicas (HAProxy's log)")
    return len(done) == args.participants and lost == 0 and dup == 0


def compare(phases: list[Phase]) -> None:
    by_name = {p.name: p for p in phases}
    if set(by_name) != set(PHASES):
        return
    without, with_ = by_name["harness"].server_cpu_per_click(), by_name["servers"].server_cpu_per_click()
    ratio = with_ / without if without else float("nan")
    print()
    print(f"server CPU per click    without browser downloads {without * 1000:.1f} ms, with {with_ * 1000:.1f} ms: "
          f"{ratio:.2f}x ({'within' if ratio <= CPU_GOAL else 'over'} the {CPU_GOAL}x goal)")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=50, help="participants (default 50)")
    parser.add_argument("--replicas", type=int, default=2, help="streamlit processes behind the proxy (default 2)")
    parser.add_argument("--think", type=float, nargs=2, default=(5.0, 15.0), metavar=("MIN", "MAX"),
                        help="seconds on each screen before answering, drawn uniformly (default 5 15)")
    parser.add_argument("--arrivals", type=float, default=60.0, help="participants arrive within this many s")
    parser.add_argument("--db", default="postgresql", help="'postgresql' (a fresh database on --pg), 'sqlite', or a URL")
    parser.add_argument("--pg", default=os.environ.get("XAI_STUDY_TEST_PG_URL", ""),
                        help="PostgreSQL URL of a role that may create databases (default $XAI_STUDY_TEST_PG_URL)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--phases", nargs="+", choices=list(PHASES), default=list(PHASES),
                        help="crowds to run, in order: 'harness' (Streamlit's files from the benchmark), "
                             "'servers' (everything through the proxy); default both, for the ratio")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="xai_load_"))
    dropped = None
    if args.db == "postgresql":
        if not args.pg:
            parser.error("--db postgresql needs --pg URL or $XAI_STUDY_TEST_PG_URL")
        db_url, dropped = create_database(args.pg)
    elif args.db == "sqlite":
        db_url = f"sqlite:///{folder / 'responses.sqlite'}"
    else:
        db_url = args.db
    try:
        code = asyncio.run(run(args, db_url, folder))
    finally:
        if dropped:
            drop_database(args.pg, dropped)
    print(f"logs                    {folder / 'logs'}")
    return code


if __name__ == "__main__":
    sys.exit(main())
