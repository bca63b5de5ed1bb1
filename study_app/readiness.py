"""``xai-study check``: is the study ready to launch? The same checks as the researcher's readiness page.

    xai-study check                         # the study the app would open (env, secrets.toml, demo)
    xai-study check --study examples/studies/rate.toml

It first prints the settings (:func:`study_app.settings.resolve`): each one's value and where it came from,
never a secret's value (the password and the external-id key say only "set (from …)", a database URL hides
its password).

Checks that the study file validates, every stimulus decodes, every checkpoint loads, the attribution
cache holds every map participants can be shown (so nobody waits on attribution; else about how long the
missing ones take), and warns when sampled maps have not converged or maps made with other parameters
linger in the cache (:mod:`study_app.maps.cache_audit`), a researcher password
is set (neither a documentation example nor under 12 characters: settings.password_problem), the
way back to the recruitment site carries the code, error details are hidden from participants, and the database accepts connections. Exits 1 when a
blocking check fails. Plain Python (no Streamlit), so the CLI and the app judge a study identically.
"""

from __future__ import annotations

import argparse
import sys
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url

from study_app.analysis.prereg_lock import deviation
from study_app.explain.panels import FOLDER_PARAMS, is_panel
from study_app.maps.cache_audit import audit_cache
from study_app.maps.service import make_map_service
from study_app.serve.refusals import StudyKeys, database_refusals
from study_app.settings import (
    ENV_PASSWORD,
    PROJECT_ROOT,
    SECRET_PASSWORD,
    Setting,
    Settings,
    SettingsError,
    password_problem,
    resolve,
)
from study_app.settings.resolve import resolve_prolific_token
from study_app.store import Repository, make_engine
from study_app.store.migrate import schema_state
from study_app.study import load_study
from study_app.study.completion import OUTCOMES, outcome_code, redirect_problems, redirect_warnings
from study_app.study.decision import pool_verdicts
from study_app.study.panel_folders import panel_findings
from study_app.study.placebo import placebo_problems
from study_app.study.predictions import predict_study
from trainers.checkpoint import load_checkpoint

CONFIG_FILE = Path(".streamlit") / "config.toml"
HIDDEN_ERROR_DETAILS = ("none",)


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    blocking: bool = True

    @property
    def mark(self) -> str:
        return "ok" if self.ok else ("FAIL" if self.blocking else "warn")


@dataclass(frozen=True)
class Readiness:
    checks: tuple[Check, ...]
    seconds: float
    settings: Settings | None = None  # what was checked: printed as its table above the checks

    @property
    def ready(self) -> bool:
        return all(c.ok for c in self.checks if c.blocking)


def find_config(explicit: str | Path | None = None) -> Path | None:
    """The ``.streamlit/config.toml`` Streamlit will read: the working directory's, else the project's."""
    candidates = [Path(explicit)] if explicit else [Path.cwd() / CONFIG_FILE, PROJECT_ROOT / CONFIG_FILE]
    return next((p for p in candidates if p.is_file()), None)


def check_error_details(config_path: Path | None) -> Check:
    name = "error details hidden"
    if config_path is None:
        return Check(name, False, "no .streamlit/config.toml: Streamlit would show tracebacks to participants")
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return Check(name, False, f"{config_path}: unreadable ({exc})")
    value = str(config.get("client", {}).get("showErrorDetails", "full")).lower()
    if value in HIDDEN_ERROR_DETAILS:
        return Check(name, True, f'client.showErrorDetails = "{value}" in {config_path}')
    return Check(name, False, f'client.showErrorDetails = "{value}" in {config_path}; set it to "none"')


def check_privacy_settings(config_path: Path | None) -> Check:
    name = "usage statistics off, file watcher off"
    if config_path is None:
        return Check(name, False, "no .streamlit/config.toml", blocking=False)
    try:
        config = tomllib.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return Check(name, False, f"unreadable ({exc})", blocking=False)
    stats = config.get("browser", {}).get("gatherUsageStats", True)
    watcher = config.get("server", {}).get("fileWatcherType", "auto")
    ok = stats is False and watcher == "none"
    return Check(name, ok, f"browser.gatherUsageStats = {str(stats).lower()}, server.fileWatcherType = {watcher!r}",
                 blocking=False)


def check_password(settings: Settings) -> Check:
    name = "researcher password set"
    if settings.researcher_password:
        problem = password_problem(settings.researcher_password)
        if problem:
            return Check(name, False, f"not set properly: {problem} ({SECRET_PASSWORD} or ${ENV_PASSWORD}); "
                                      "the researcher area stays locked and serve refuses to start until then")
        return Check(name, True, "set")
    if settings.is_bundled_demo:
        return Check(name, True, "bundled demo: none set, so the server makes a one-time password and prints it "
                                 "in its log when the first page is opened (a real study needs "
                                 f"{SECRET_PASSWORD} or ${ENV_PASSWORD})")
    return Check(name, False, f"set {SECRET_PASSWORD} in .streamlit/secrets.toml or ${ENV_PASSWORD}; "
                              "without it the researcher area stays locked")


def check_replicas(db_url: str, replicas: int) -> Check:
    """Several processes on one SQLite file stall each other on its lock (and corrupt it on network file
    systems); ``xai-study serve`` refuses it too. One process on SQLite is fine."""
    name = "database fits the number of processes"
    try:
        backend = make_url(db_url).get_backend_name()
    except Exception as exc:  # noqa: BLE001 - an unusable URL is a finding (also reported by "database reachable")
        return Check(name, False, f"{type(exc).__name__}: {exc}")
    if replicas > 1 and backend == "sqlite":
        return Check(name, False, f"{replicas} processes cannot share SQLite; use PostgreSQL (deploy/README.md)")
    return Check(name, True, f"{backend}, {replicas} process{'es' if replicas > 1 else ''}")


def _guard(name: str, action: Callable[[], str]) -> Check:
    try:
        return Check(name, True, action())
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report, not a crash
        return Check(name, False, f"{type(exc).__name__}: {exc}")


def check_study(settings: Settings, db_url: str | None = None) -> list[Check]:
    """Study file, stimuli, checkpoints, attribution cache and database, in that order."""
    checks: list[Check] = []
    holder: dict = {}

    def load() -> str:
        holder["study"] = load_study(settings.study_file)
        study = holder["study"]
        n = sum(len(t.stimuli) for t in study.tasks)
        return f"{settings.study_file} ({settings.source_note}); {len(study.tasks)} task(s), {n} stimuli decode"

    checks.append(_guard("study file valid, stimuli readable", load))
    study = holder.get("study")
    if study is None:
        return checks
    checks.append(check_return_to_recruiter(study))
    checks.append(check_preregistration(settings.study_file))
    checks.append(_guard("checkpoints load", lambda: _load_checkpoints(study)))
    if any(t.decision is not None for t in study.tasks):
        checks.append(_guard("decision trials drawable", lambda: _decision_pools(study, holder)))
    if any(is_panel(m.name) for m in study.methods):
        checks += check_panel_folders(study)
    checks += cache_checks(study, holder.get("predictions"), cache_dir=settings.cache_dir)
    checks.append(_guard("database reachable, nothing a server refuses", lambda: _database(settings, db_url, study)))
    checks.append(check_map_colours(study, db_url or settings.db_url))
    if study.recruitment.prolific_study_id or study.recruitment.capped:
        checks.append(check_recruitment(study))
    return checks


def check_recruitment(study, token: Setting | None = None) -> Check:
    """What ``[recruitment]`` sets (caps, the Prolific study) and whether ``xai-study prolific`` has a token;
    never blocking (participants can take part without it)."""
    r = study.recruitment
    caps = ([f"at most {r.cap_total} in all"] if r.cap_total else []) + [f"{label} at most {n}" for label, n in r.caps]
    said = ([f"caps: {', '.join(caps)}"] if caps else []) + ([f"Prolific study {r.prolific_study_id}"]
                                                              if r.prolific_study_id else [])
    if not r.prolific_study_id:
        return Check("recruitment", True, "; ".join(said), blocking=False)
    try:
        token = token or resolve_prolific_token()
    except SettingsError as exc:
        return Check("recruitment", False, f"{'; '.join(said)}; Prolific token unreadable: {exc}", blocking=False)
    if not token.value:
        return Check("recruitment", False, f"{'; '.join(said)}; no Prolific API token: xai-study prolific needs "
                                           "XAI_STUDY_PROLIFIC_TOKEN or prolific_token in secrets.toml", blocking=False)
    return Check("recruitment", True, f"{'; '.join(said)}; Prolific API token {token.shown}", blocking=False)


OLD_DEFAULT_COLOURS = "inferno"  # what every map was drawn in before map_colours was recorded


def check_map_colours(study, db_url: str) -> Check:
    """Warns when participants of this study (any stored version) saw maps in another colour scheme than the
    study file now draws, e.g. a study started before the default changed: its participants would see different
    maps from here on. A map shown before the scheme was recorded was drawn in :data:`OLD_DEFAULT_COLOURS`."""
    name = "maps drawn in the colours participants saw"
    try:
        seen = shown_schemes(study.id, db_url)
    except Exception as exc:  # noqa: BLE001 - a database the check above reports on; nothing to compare
        return Check(name, True, f"not compared ({type(exc).__name__})", blocking=False)
    other = {scheme: n for scheme, n in seen.items() if scheme != study.map_colours}
    if not other:
        return Check(name, True, f"{study.map_colours}" + (f" ({sum(seen.values())} trials shown)" if seen else
                                                           " (no maps shown yet)"), blocking=False)
    said = ", ".join(f"{scheme} ({n} trials)" for scheme, n in sorted(other.items()))
    return Check(name, False, f"participants so far saw maps in {said}; this study file draws "
                              f"{study.map_colours}: set map_colours = \"{max(other, key=other.get)}\" under [study] "
                              "to keep showing what they saw (the export's map_colours column says which)",
                 blocking=False)


def shown_schemes(slug: str, db_url: str) -> dict[str, int]:
    """Trial phases with served maps per colour scheme, over every stored version of study ``slug``."""
    repo = Repository(make_engine(db_url))
    try:
        counts: dict[str, int] = {}
        for record in repo.studies(slug):
            for shown in repo.shown_trials(record.id):
                for scheme in {m.colours or OLD_DEFAULT_COLOURS for m in shown.maps if m.png_sha256}:
                    counts[scheme] = counts.get(scheme, 0) + 1
        return counts
    finally:
        repo.dispose()


def check_return_to_recruiter(study) -> Check:
    """Fails when ``redirect_url`` cannot bring a participant back with their code (no https, no host, no
    ``{code}`` or ``cc=``); warns when it works but should change (an old Prolific address)."""
    name = "return to the recruitment site"
    problems = redirect_problems(study)
    if problems:
        return Check(name, False, "; ".join(problems))
    warnings = redirect_warnings(study)
    if warnings:
        return Check(name, False, "; ".join(warnings), blocking=False)
    if not study.redirect_url:
        return Check(name, True, "no redirect_url: the end page shows the completion code only")
    codes = [o for o in OUTCOMES if outcome_code(study, o)]
    return Check(name, True, f"returns with the code for: {', '.join(codes)}")


def check_preregistration(study_file: str | Path) -> Check:
    """Whether the study file still matches its ``prereg.json`` (beside it or in ``prereg/``), naming the tables
    that changed (:mod:`study_app.analysis.prereg_lock`). Never blocking: a deviation is the researcher's to report;
    no registration at all is fine."""
    name = "matches its pre-registration"
    try:
        found = deviation(study_file)
    except (OSError, ValueError) as exc:
        return Check(name, False, f"cannot compare with prereg.json: {exc}", blocking=False)
    return Check(name, not found.registered or (found.matches and not found.scripts_changed), found.describe(),
                 blocking=False)


def check_panel_folders(study) -> list[Check]:
    """The example pools and concept sets of the study's panels (:mod:`study_app.study.panel_folders`): usable
    for every task that shows them (blocking), and no image identical to a stimulus (a warning)."""
    try:
        findings = panel_findings(study)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report, not a crash
        return [Check("example and concept folders usable", False, f"{type(exc).__name__}: {exc}")]
    blocking = [f"{field}: {problem}" for field, problem, stops in findings if stops]
    overlap = [f"{field}: {problem}" for field, problem, stops in findings if not stops]
    folders = sorted({v for m in study.methods if is_panel(m.name) for k, v in m.params.items() if k in FOLDER_PARAMS})
    return [Check("example and concept folders usable", not blocking,
                  "; ".join(blocking) or f"{len(folders)} folder(s) read: " + ", ".join(folders)),
            Check("no example or concept image is a stimulus", not overlap,
                  "; ".join(overlap) or "none of their images is a stimulus", blocking=False)]


def _load_checkpoints(study) -> str:
    names = []
    for directory in dict.fromkeys(t.checkpoint for t in study.tasks):
        ckpt = load_checkpoint(directory)
        names.append(f"{Path(directory).name} ({ckpt.card['arch']}, {len(ckpt.class_names)} classes)")
    return ", ".join(names)


def _decision_pools(study, holder: dict) -> str:
    """Whether each decision task's stimuli hold the AI-wrong and AI-right images its share asks for, and can
    supply its placebo (naming the field otherwise)."""
    holder["predictions"] = predict_study(study)
    verdicts = pool_verdicts(study, holder["predictions"])
    bad = [f"not enough stimuli for {v.describe()}" for v in verdicts if not v.ok]
    bad += [str(e) for e in placebo_problems(study)]  # "<file>: tasks[i].placebo: ..."
    if bad:
        raise LookupError("; ".join(bad))
    return "; ".join(f"enough: {v.describe()}" for v in verdicts)


def cache_checks(study, predictions=None, *, cache_dir: Path | None = None) -> list[Check]:
    """Every map cached (blocking; with about how long the missing ones take), the sampled maps converged and
    no map of the study made with other parameters (both warnings): :mod:`study_app.maps.cache_audit`.
    ``cache_dir``: the settings' folder (``None``: the study's, for callers without settings)."""
    name = "attribution cache complete"
    try:
        service = make_map_service(cache_dir) if cache_dir is not None else None
        audit = audit_cache(study, service=service, predictions=predictions)
    except Exception as exc:  # noqa: BLE001 - every failure is a finding to report, not a crash
        return [Check(name, False, f"{type(exc).__name__}: {exc}")]
    return [Check(name, not audit.missing, audit.missing_text()),
            Check("sampled maps converged", not audit.unconverged, audit.convergence_text(), blocking=False),
            Check("no stale maps in the cache", not audit.stale, audit.stale_text(), blocking=False)]


def _database(settings: Settings, db_url: str | None, study=None) -> str:
    """Reachable, and nothing a server would refuse (:mod:`study_app.serve.refusals`): every such condition
    is a FAIL here, so "READY" never meets a server that refuses the study."""
    url = db_url or settings.db_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        revision, head = schema_state(engine)
    finally:
        engine.dispose()
    shown = engine.url.render_as_string(hide_password=True)
    keys = StudyKeys(study.id, not study.keep_external_ids) if study is not None else None
    problems = database_refusals(url, keys, id_key=settings.id_key.value)
    if problems:
        raise RuntimeError(" ".join(problems))
    return f"{shown} (schema {head})" if revision else f"{shown} (empty: tables are created on first use)"


def check_readiness(settings: Settings, *, config_path: Path | None = None, db_url: str | None = None,
                    replicas: int | None = None) -> Readiness:
    start = time.perf_counter()
    checks = check_study(settings, db_url)
    checks.append(check_replicas(db_url or settings.db_url,
                                 replicas if replicas is not None else settings.replicas.value))
    checks += [check_password(settings), check_error_details(config_path or find_config()),
               check_privacy_settings(config_path or find_config())]
    return Readiness(checks=tuple(checks), seconds=time.perf_counter() - start, settings=settings)


def format_report(readiness: Readiness) -> str:
    width = max(len(c.name) for c in readiness.checks)
    lines = [f"{c.mark:<4}  {c.name:<{width}}  {c.detail}" for c in readiness.checks]
    verdict = "READY to launch" if readiness.ready else "NOT READY: fix the FAIL lines above"
    head = ["settings (value [source]):", readiness.settings.format_table(), ""] if readiness.settings else []
    return "\n".join([*head, *lines, "", f"{verdict} ({readiness.seconds:.1f} s)"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--study", type=Path, default=None,
                        help="study file (default: $XAI_STUDY_FILE, secrets.toml study_file, else the demo)")
    parser.add_argument("--secrets", type=Path, default=None,
                        help="secrets file to read (default: ~/.streamlit/secrets.toml overlaid by "
                             ".streamlit/secrets.toml here, as the app reads them)")
    parser.add_argument("--config", type=Path, default=None,
                        help="Streamlit config to judge (default: .streamlit/config.toml here or in the project)")
    parser.add_argument("--db", default=None, help="database URL (default: as the app resolves it)")
    parser.add_argument("--replicas", type=int, default=None,
                        help="processes that will serve the study (default: $XAI_STUDY_REPLICAS, else 1); "
                             "more than one needs PostgreSQL")


def run(args: argparse.Namespace) -> int:
    try:
        settings = resolve(study=args.study.resolve() if args.study is not None else None, db=args.db,
                           replicas=args.replicas, secrets_file=args.secrets)
    except SettingsError as exc:
        print(f"xai-study check: {exc}", file=sys.stderr)
        return 2
    readiness = check_readiness(settings, config_path=args.config)
    print(format_report(readiness))
    return 0 if readiness.ready else 1
