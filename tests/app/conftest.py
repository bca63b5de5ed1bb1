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


@pytest.fixture
def setup_study(tmp_path, monkeypatch, tiny_checkpoint, tiny_stimuli):
    """``setup_study(protocol, **options) -> StudySetup``; points the app at it through the environment."""
    monkeypatch.delenv(PASSWORD_ENV, raising=False)
    monkeypatch.chdir(tmp_path)  # no project secrets.toml leaks into the test

    def make(protocol: str = "verification", **options) -> StudySetup:
        options.setdefault("trials", 2)
        options.setdefault("checks", 0)
        if "display" in options:
            options["extra"] = f'display = "{options.pop("display")}"'
        path = write_study(tmp_path / "studies", protocol, checkpoint=tiny_checkpoint, stimuli=tiny_stimuli,
                           **options)
        setup = StudySetup(study_file=path, db_path=tmp_path / f"{path.stem}.sqlite")
        monkeypatch.setenv("XAI_STUDY_FILE", str(path))
        monkeypatch.setenv("XAI_STUDY_DB_URL", setup.db_url)
        return setup

    return make


class SolidMapService:
    """Stands in for the explanation service in UI-only tests: a solid PNG and a fixed alt text.

    The real service (cache, Captum) is exercised by the explain package's tests and by the end-to-end
    browser test; here it only has to give the page something to draw. Records what was asked.
    """

    def __init__(self):
        self.requests: list[tuple] = []

    def _picture(self, checkpoint, image_path, **request):
        import io
        from types import SimpleNamespace

        from PIL import Image

        self.requests.append((checkpoint, image_path, tuple(sorted(request.items(), key=str))))
        buffer = io.BytesIO()
        Image.new("RGB", (32, 32), (250, 200, 0)).save(buffer, "PNG")
        return SimpleNamespace(png=buffer.getvalue(), alt_text="map strongest in the centre")

    cached = _picture
    get_or_compute = _picture


@pytest.fixture
def solid_maps(monkeypatch) -> SolidMapService:
    import study_app.ui.explanation_maps as explanation_maps

    service = SolidMapService()
    monkeypatch.setattr(explanation_maps, "explanation_service", lambda: service)
    return service


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
