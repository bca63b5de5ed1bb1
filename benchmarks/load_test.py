"""Load test: a launch-day crowd of participants who read before they click, through the real proxy.

    python benchmarks/load_test.py                                   # 50 participants, 2 replicas, PostgreSQL
    python benchmarks/load_test.py --participants 20 --replicas 1 --db sqlite
    python benchmarks/load_test.py --think 0 0 --arrivals 0          # everyone at once, no reading time

The bundled demo study (on a copy of its committed cache) is served exactly as ``xai-study serve`` serves
it: N ``streamlit run`` replicas behind HAProxy (cookie affinity, health checks) on one database: a fresh
PostgreSQL database created for the run (``--pg``, default ``$XAI_STUDY_TEST_PG_URL``, a role that may
create databases) and dropped after it, or SQLite with one replica. A warm-up participant walks each
replica first (imports, models, map cache). Then the participants arrive at random within ``--arrivals``
seconds, each in their own Chromium context, and walk the study from consent to the completion code,
pausing a random 5-15 s (``--think``) on every screen before answering, as people do; a screen that asks
for its answers again is answered again (counted and printed).

Prints completion, lost and duplicated answers (every click a participant saw acknowledged, counted
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

from e2e.streamlit_server import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from participant_walk import TIMEOUT_MS, Click, think_times, walk  # noqa: E402
from server_stats import cpu_seconds, percentile, rss_mib  # noqa: E402

DEMO_STUDY = ROOT / "demo" / "study.toml"
DEMO_CACHE = ROOT / "demo" / "cache"
SAMPLE_S = 2.0
RETRIES = 2  # a participant whose answers the app asks for again answers once more, as a person would


@dataclass
class Participant:
    seed: int
    clicks: list[Click] = field(default_factory=list)
    token: str | None = None
    error: str | None = None


@dataclass
class Memory:
    samples: dict[str, list[float]] = field(default_factory=dict)


async def one_participant(browser, url: str, who: Participant, think: tuple[float, float], delay: float) -> None:
    await asyncio.sleep(delay)
    context = await browser.new_context(viewport={"width": 1280, "height": 1400})
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
            cpu0 = {name: cpu_seconds(pid) for name, pid in pids.items()}
            memory, stop = Memory(), asyncio.Event()
            sampler = asyncio.create_task(sample_memory(pids, memory, stop))
            rng = random.Random(args.seed)
            crowd = [Participant(seed=args.seed * 1000 + i) for i in range(args.participants)]
            print(f"{args.participants} participants arriving within {args.arrivals:.0f} s, thinking "
                  f"{args.think[0]:.0f}-{args.think[1]:.0f} s per screen ...", flush=True)
            started = time.perf_counter()
            await asyncio.gather(*(one_participant(browser, deployment.url, who, tuple(args.think),
                                                   rng.uniform(0, args.arrivals)) for who in crowd))
            wall = time.perf_counter() - started
            stop.set()
            await sampler
            cpu = {name: cpu_seconds(pid) - cpu0[name] for name, pid in pids.items()}
            await browser.close()
        alive = {r.name: r.alive() for r in deployment.replicas}
    return report(args, crowd, db_url, wall, cpu, memory, alive)


def report(args, crowd: list[Participant], db_url: str, wall: float, cpu: dict[str, float], memory: Memory,
           alive: dict[str, bool]) -> int:
    done = [w for w in crowd if w.error is None and w.token]
    tokens = [w.token for w in done]
    screens, duplicates = stored_counts(db_url, tokens)
    acknowledged = {w.token: sum(not c.refused for c in w.clicks) for w in done}  # clicks that moved them on
    refused = sum(c.refused for w in crowd for c in w.clicks)
    lost = sum(max(0, acknowledged[t] - screens[t]) for t in tokens)
    dup = sum(duplicates.values()) + sum(max(0, screens[t] - acknowledged[t]) for t in tokens)
    clicks = [c for w in crowd for c in w.clicks]
    settled = [c.settled_s * 1000 for c in clicks]
    images = [c.images_s * 1000 for c in clicks]
    replicas = [name for name in cpu if name != "haproxy"]
    server_cpu = sum(cpu[n] for n in replicas)
    print()
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
    for name, values in memory.samples.items():
        if name == "haproxy" or not values:
            continue
        print(f"memory {name:<16} start {values[0]:.0f} MiB   peak {max(values):.0f} MiB   end {values[-1]:.0f} MiB"
              f"   growth {values[-1] - values[0]:+.0f} MiB over the run")
    ok = len(done) == args.participants and lost == 0 and dup == 0
    return 0 if ok else 1


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
