"""``xai-study prolific status|approve|reject|bonus|sync --study FILE``: settle a study's Prolific submissions.

    xai-study prolific status  --study study.toml          # each submission with our outcome
    xai-study prolific approve --study study.toml          # dry run: what would be approved
    xai-study prolific approve --study study.toml --yes    # approve the completed ones
    xai-study prolific reject  --study study.toml --yes    # reject / ask to return, per [recruitment]'s rules
    xai-study prolific bonus   --study study.toml --yes    # pay bonus_per_correct per correct final answer
    xai-study prolific sync    --study study.toml --yes    # returned / timed out on Prolific: slot freed here

The Prolific study is ``[recruitment] prolific_study_id``; the token is ``XAI_STUDY_PROLIFIC_TOKEN`` or
``prolific_token`` in ``.streamlit/secrets.toml`` (never printed, stored or logged); the database is the app's
(``--db`` overrides). Every run is in the researcher audit log. ``--api-url`` points at another server with
Prolific's paths (the tests' stand-in).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from study_app.recruit.actions import ACTIONS, CHANGES, ProlificActions, RecruitError
from study_app.recruit.prolific_api import API_URL, ProlificClient, ProlificError
from study_app.settings import SettingsError, resolve
from study_app.settings.resolve import ENV_PROLIFIC_API_URL, resolve_prolific_api_url, resolve_prolific_token
from study_app.store.database import DatabaseConfigError, make_engine
from study_app.store.logs import cli_actor
from study_app.store.migrate import SchemaMismatch
from study_app.store.repository import Repository
from study_app.study.errors import StudyFileError
from study_app.study.id_key import key_from_text
from study_app.study.study_file import parse_study_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("action", choices=ACTIONS, help="status: list; approve, reject, bonus, sync: act (dry run "
                                                        "unless --yes)")
    parser.add_argument("--study", required=True, type=Path, help="the study's .toml file")
    parser.add_argument("--db", default=None, help="SQLAlchemy database URL (default: the app's for this study)")
    parser.add_argument("--yes", action="store_true", help="really send approvals, rejections, bonuses; really mark "
                                                           "participants (default: a dry run)")
    parser.add_argument("--api-url", default=None, help=f"Prolific's API root (default: ${ENV_PROLIFIC_API_URL}, "
                                                        f"else {API_URL})")


def open_actions(study_path: Path, db: str | None, api_url: str | None, *, actor: str) -> tuple[ProlificActions, Repository]:
    """The study's actions over its database and Prolific (the caller disposes of the repository).

    Raises:
        RecruitError: the study file, database, token or id key is not usable (one line each).
    """
    try:
        study = parse_study_file(study_path)
        settings = resolve(study=study_path, db=db)
        token = resolve_prolific_token().value
    except (StudyFileError, SettingsError, DatabaseConfigError) as exc:
        raise RecruitError(str(exc)) from exc
    if not token:
        raise RecruitError("no Prolific API token: set XAI_STUDY_PROLIFIC_TOKEN or prolific_token in "
                           ".streamlit/secrets.toml")
    key_text = settings.id_key.value
    if not study.keep_external_ids and not key_text:
        raise RecruitError("this study stores Prolific ids as keyed hashes and no id key is configured "
                           "(XAI_STUDY_ID_KEY or id_key in secrets.toml): its participants cannot be matched")
    url = settings.db_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise RecruitError(f"no database at {url.removeprefix('sqlite:///')} (set --db or XAI_STUDY_DB_URL)")
    try:
        repository = Repository(make_engine(url), create_tables=True)
    except (SchemaMismatch, DatabaseConfigError) as exc:
        raise RecruitError(str(exc)) from exc
    key = key_from_text(key_text, settings.id_key.source) if key_text else None
    try:
        return ProlificActions(study, repository, ProlificClient(token, api_url or resolve_prolific_api_url()), key,
                                actor=actor), repository
    except (RecruitError, ProlificError):
        repository.dispose()
        raise


def run(args: argparse.Namespace) -> int:
    try:
        actions, repository = open_actions(args.study, args.db, args.api_url, actor=cli_actor())
    except (RecruitError, ProlificError) as exc:
        print(f"prolific: {exc}", file=sys.stderr)
        return 1
    try:
        report = actions.run(args.action, confirm=args.yes)
    except (RecruitError, ProlificError) as exc:
        print(f"prolific {args.action}: {exc}", file=sys.stderr)
        return 1
    finally:
        repository.dispose()
    print("\n".join(report.lines))
    return 0 if args.action not in CHANGES or report.dry_run or report.done == report.planned else 1
