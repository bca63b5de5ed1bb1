"""``xai-study simulate``: synthetic participants through the real engine, into the study's real database.

    xai-study simulate --study examples/studies/decision.toml --participants 60 --behaviour behaviour.toml
    xai-study simulate --study s.toml --participants 40 --arm-accuracy gradcam=0.9 --arm-accuracy none=0.6
    xai-study simulate --study s.toml --participants 0 --browser 2

``--browser K`` also walks K synthetic participants through the real app in Chromium
(:mod:`study_app.simulate.browser_walk`): the pages, not the effects.

The database is the one ``xai-study export`` would use (``--db``, else env ``XAI_STUDY_DB_URL``, else ``db_url``
in ``.streamlit/secrets.toml``, else ``responses.sqlite`` next to the study file). Every participant is stored
``synthetic``: balanced apart from real participants and left out of exports, the Analysis and the Progress pages
unless asked for (``xai-study export --include-synthetic`` writes ``responses_synthetic.csv`` and its siblings).
A database that already holds real participants of this study is refused unless ``--alongside-real`` is given.
The behaviour model (:mod:`study_app.simulate.behaviour`) comes from ``--behaviour FILE`` with flags over it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from collections import defaultdict
from pathlib import Path

from study_app.export.trial_rows import response_rows
from study_app.serve.errors import DeploymentError
from study_app.serve.launcher import Deployment
from study_app.settings import resolve
from study_app.simulate.behaviour import BehaviourError, parse_arm_accuracy, read_behaviour, with_flags
from study_app.simulate.browser_walk import BrowserWalkError, new_password, walk_browsers
from study_app.simulate.run import SimulatedClock, simulate
from study_app.store.database import DatabaseConfigError, make_engine
from study_app.store.migrate import SchemaMismatch
from study_app.store.repository import Repository
from study_app.study import StudyEngine, load_study
from study_app.study.errors import StudyFileError

FLAGS = {  # flag -> (behaviour field, type, help)
    "--accuracy": ("accuracy", float, "probability that a participant's own judgement is right (all arms)"),
    "--follow-right": ("follow_when_right", float, "probability of adopting the AI's answer when it is right"),
    "--follow-wrong": ("follow_when_wrong", float, "probability of adopting the AI's answer when it is wrong"),
    "--rt-mean": ("rt_mean", float, "mean seconds per step (lognormal)"),
    "--rt-sd": ("rt_sd", float, "SD of the seconds per step"),
    "--attention-failure": ("attention_failure", float, "probability of failing each attention check"),
    "--dropout": ("dropout", float, "share of participants who stop at a random step"),
    "--straight-liners": ("straight_liners", float, "share who give the same scale position everywhere"),
    "--arrival-seconds": ("arrival_seconds", float, "mean seconds between arrivals"),
    "--seed": ("seed", int, "random seed of the behaviour"),
}


class SimulateError(RuntimeError):
    """Why nothing was simulated; one line."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", required=True, type=Path, help="the study's .toml file")
    parser.add_argument("--participants", required=True, type=int, help="how many synthetic participants arrive")
    parser.add_argument("--browser", type=int, default=0, metavar="K",
                        help="also walk K synthetic participants through the real app in Chromium (answers at random)")
    parser.add_argument("--db", default=None, help="SQLAlchemy database URL (overrides env and secrets)")
    parser.add_argument("--behaviour", type=Path, default=None, help="behaviour model TOML (flags override it)")
    parser.add_argument("--arm-accuracy", action="append", metavar="ARM=P",
                        help="own-judgement accuracy in one arm (repeatable), e.g. gradcam=0.9")
    for flag, (dest, kind, help_) in FLAGS.items():
        parser.add_argument(flag, dest=dest, type=kind, default=None, help=help_)
    parser.add_argument("--alongside-real", action="store_true",
                        help="simulate even though the database holds real participants of this study")


def behaviour_from(args: argparse.Namespace):
    base = read_behaviour(args.behaviour)
    flags = {dest: getattr(args, dest, None) for dest, _, _ in FLAGS.values()}
    return with_flags(base, accuracy_by_arm=parse_arm_accuracy(args.arm_accuracy), **flags)


def arm_accuracy(rows: list[dict], participants: set[str]) -> dict[str, tuple[int, int]]:
    """``arm -> (right, scored trials)`` over these participants' scored, non-attention-check trials (the arm: the
    decision arm, else the maps shown, as the generated analysis reads it)."""
    out: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for row in rows:
        if row["participant"] in participants and not row.get("is_attention_check") and row.get("correct") is not None:
            arm = row.get("arm") or row.get("methods") or ""
            out[arm][0] += bool(row["correct"])
            out[arm][1] += 1
    return {arm: (right, n) for arm, (right, n) in sorted(out.items())}


def browser_outcome(repo: Repository, study_path: Path, db_url: str, record, key: str, count: int, seed: int,
                    progress) -> dict:
    """Walk ``count`` participants through the served app; ``status -> count`` of the participants they made."""
    before = {p.public_id for p in repo.participants(record.id)}
    progress(f"serving {study_path.name} (one replica behind HAProxy) for {count} browser participant(s)")
    try:
        with Deployment(study_path, db_url, replicas=1, quiet=True, researcher_password=new_password()) as app:
            walks = walk_browsers(app.url, key, count, seed=seed, progress=progress)
    except (DeploymentError, BrowserWalkError) as exc:
        raise SimulateError(f"--browser: {exc}") from None
    made = [p for p in repo.participants(record.id) if p.public_id not in before]
    statuses: dict[str, int] = defaultdict(int)
    for p in made:
        statuses[p.status if p.synthetic else "NOT SYNTHETIC"] += 1
    return {"walks": walks, "statuses": dict(statuses), "participants": [p.public_id for p in made]}


def run_simulation(study_path: Path, n: int, behaviour, *, db: str | None = None, alongside_real: bool = False,
                   browser: int = 0, progress=print) -> dict:
    """Simulate and return the summary (also what the command prints)."""
    if n < 0 or browser < 0 or n + browser < 1:
        raise SimulateError(f"--participants and --browser must not be negative and add up to at least 1, got {n} "
                            f"and {browser}")
    try:
        study = load_study(study_path)
    except StudyFileError as exc:
        raise SimulateError(str(exc)) from exc
    settings = resolve(study=study_path, db=db)
    choice = settings.database_choice
    try:
        repo = Repository(make_engine(settings.db_url), create_tables=True)
    except SchemaMismatch as exc:
        raise SimulateError(str(exc)) from exc
    try:
        clock = SimulatedClock(dt.datetime.now(dt.UTC).replace(microsecond=0))
        engine = StudyEngine(study, repo, clock=clock, id_key=settings.engine_id_key(), secrets={})
        real = [p for p in repo.participants(engine.record.id) if not p.synthetic and not p.pilot]
        if real and not alongside_real:
            raise SimulateError(f"{choice.shown} holds {len(real)} real participant(s) of this study; simulate into "
                                "another database (--db) or pass --alongside-real")
        progress(f"simulating {n} synthetic participants of {study.id} into {choice.shown}")
        outcome = simulate(engine, clock, n, behaviour, progress)
        rows = response_rows(repo, engine.record, include_synthetic=True)
        summary = {"database": choice.shown, "outcome": outcome,
                   "accuracy": arm_accuracy(rows, set(outcome.participants))}
        if browser:
            summary["browser"] = browser_outcome(repo, study_path.resolve(), settings.db_url, engine.record,
                                                 engine.simulate_key, browser, behaviour.seed, progress)
        return summary
    finally:
        repo.dispose()


def run(args: argparse.Namespace) -> int:
    try:
        summary = run_simulation(args.study, args.participants, behaviour_from(args), db=args.db,
                                 alongside_real=args.alongside_real, browser=args.browser)
    except (SimulateError, BehaviourError, DatabaseConfigError) as exc:
        print(f"simulate: {exc}", file=sys.stderr)
        return 1
    out = summary["outcome"]
    print(f"{len(out.participants)} synthetic participants enrolled: {out.completed} completed, "
          f"{out.dropped_out} dropped out, {out.screened_out} screened out "
          f"(simulated time {out.started:%Y-%m-%d %H:%M} to {out.ended:%H:%M} UTC)")
    for arm, (right, n) in summary["accuracy"].items():
        print(f"  accuracy in arm {arm or '(none)'}: {right}/{n} = {right / n:.3f}")
    if "browser" in summary:
        statuses = ", ".join(f"{n} {status}" for status, n in sorted(summary["browser"]["statuses"].items()))
        print(f"{len(summary['browser']['participants'])} browser participants: {statuses or 'none enrolled'}")
    print(f"database: {summary['database']} (participants marked synthetic; export them with "
          f"xai-study export --study {args.study}{f' --db {args.db}' if args.db else ''} --include-synthetic)")
    return 0
