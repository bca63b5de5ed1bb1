"""AppTest fixtures: a real tiny checkpoint, generated stimuli, a study file per protocol and a temp SQLite DB.

The study files come from the engine tests' kit (``tests/study/kit.py``), so the app is always tested
against the schema the engine actually accepts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from study.kit import make_checkpoint, make_stimuli, write_study

MAIN = Path(__file__).resolve().parents[2] / "study_app" / "main.py"
PASSWORD_ENV = "XAI_STUDY_RESEARCHER_PASSWORD"


@dataclass(frozen=True)
class StudySetup:
    study_file: Path
    db_path: Path

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"


@pytest.fixture(scope="session")
def tiny_checkpoint(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("app_ckpt") / "tiny_resnet18")


@pytest.fixture(scope="session")
def tiny_stimuli(tmp_path_factory) -> Path:
    return make_stimuli(tmp_path_factory.mktemp("app_stimuli") / "pets")


@pytest.fixture(scope="session")
def few_stimuli(tmp_path_factory) -> Path:
    """Three images per class: for tests that precompute every map of a study."""
    return make_stimuli(tmp_path_factory.mktemp("app_few_stimuli") / "pets", per_class=3)


@pytest.fixture
def setup_study(tmp_path, monkeypatch, tiny_checkpoint, tiny_stimuli):
    """``setup_study(protocol, **options) -> StudySetup``; points the app at it through the environment."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.setenv("XAI_STUDY_CACHE", str(tmp_path / "attribution_cache"))
    monkeypatch.chdir(tmp_path)  # no project secrets.toml leaks into the test

    def make(protocol: str = "verification", **options) -> StudySetup:
        options.setdefault("trials", 2)
        options.setdefault("checks", 0)
        if "display" in options:
            options["extra"] = f'display = "{options.pop("display")}"'
        stimuli = options.pop("stimuli", tiny_stimuli)
        path = write_study(tmp_path / "studies", protocol, checkpoint=tiny_checkpoint, stimuli=stimuli, **options)
        setup = StudySetup(study_file=path, db_path=tmp_path / f"{path.stem}.sqlite")
        monkeypatch.setenv("XAI_STUDY_FILE", str(path))
        monkeypatch.setenv("XAI_STUDY_DB_URL", setup.db_url)
        return setup

    return make


def db_counts(setup: StudySetup) -> dict[str, int]:
    from study_app.store import Repository, make_engine

    repo = Repository(make_engine(setup.db_url))
    try:
        return repo.count_rows()
    finally:
        repo.dispose()


def stored_responses(setup: StudySetup) -> list:
    from study_app.store import Repository, make_engine

    repo = Repository(make_engine(setup.db_url))
    try:
        return [r for study in repo.studies() for r in repo.responses(study.id)]
    finally:
        repo.dispose()
