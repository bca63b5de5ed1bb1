"""The end-to-end study: the engine tests' tiny checkpoint and stimuli, a verification study file with
four trials, its attribution cache precomputed, and the server environment that points at all of it."""

from __future__ import annotations

import re
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from study.kit import make_checkpoint, make_stimuli, write_study

E2E_PASSWORD = "e2e researcher password ✓"


@dataclass(frozen=True)
class E2EStudy:
    study_file: Path
    db_path: Path
    cache_dir: Path

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.db_path}"


def make_e2e_study(folder: Path, trials: int = 4, protocol: str = "verification",
                   cache_dir: Path | None = None) -> E2EStudy:
    checkpoint = make_checkpoint(folder / "checkpoints" / "tiny_resnet18")
    stimuli = make_stimuli(folder / "stimuli" / "pets")
    study_file = write_study(folder / "studies", protocol, checkpoint=checkpoint, stimuli=stimuli,
                             trials=trials, checks=0, keep=True)
    setup = E2EStudy(study_file=study_file, db_path=folder / "responses.sqlite", cache_dir=cache_dir or folder / "cache")
    precompute(setup)
    return setup


def precompute(setup: E2EStudy) -> None:
    """Fill the attribution cache for every map the study can show, so no participant waits."""
    from study_app.maps.coverage import precompute_study  # noqa: PLC0415
    from study_app.maps.service import make_map_service  # noqa: PLC0415
    from study_app.study import load_study  # noqa: PLC0415

    precompute_study(load_study(setup.study_file), service=make_map_service(setup.cache_dir))


def server_env(setup: E2EStudy, password: str | None = E2E_PASSWORD) -> dict[str, str]:
    env = {"XAI_STUDY_FILE": str(setup.study_file), "XAI_STUDY_DB_URL": setup.db_url,
           "XAI_STUDY_CACHE": str(setup.cache_dir)}
    if password is not None:
        env["XAI_STUDY_RESEARCHER_PASSWORD"] = password
    return env


def open_repository(setup: E2EStudy):
    from study_app.store import Repository, make_engine  # noqa: PLC0415
    from study_app.study import load_study  # noqa: PLC0415

    study = load_study(setup.study_file, check_images=False)
    repo = Repository(make_engine(setup.db_url))
    record = next(r for r in repo.studies(study.id) if r.file_sha256 == study.sha256)
    return repo, record


OFFLINE_EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "studies" / "offline"


def offline_example_copy(example: str, folder: Path, *, study_lines: str = "", tail: str = "",
                         study_id: str | None = None) -> Path:
    """An offline example written into ``folder`` with its relative paths made absolute, ``study_lines`` added
    under ``[study]`` (e.g. ``allow_phones = true``), ``tail`` appended and, given ``study_id``, another id."""
    source = OFFLINE_EXAMPLES / f"{example}.toml"
    text = re.sub(r'"(\.\./[^"]+)"', lambda m: f'"{(source.parent / m.group(1)).resolve().as_posix()}"',
                  source.read_text(encoding="utf-8"))
    if study_lines:
        text = text.replace("[study]\n", f"[study]\n{study_lines.strip()}\n", 1)
    if study_id:
        text = re.sub(r'^id = "[^"]+"', f'id = "{study_id}"', text, count=1, flags=re.M)
    path = folder / f"{example}_copy.toml"
    path.write_text(text + tail, encoding="utf-8")
    return path


@contextmanager
def served_tiny_study(folder: Path, sid: str, log: Path, **study_fields):
    """A tiny verification study (the kit's checkpoint and stimuli, ``study_fields`` as ``write_study`` takes
    them), precomputed and served; yields the server with its ``setup``. Fails if the server logged a traceback."""
    from e2e.streamlit_server import StreamlitServer

    path = write_study(folder / "studies", "verification", checkpoint=make_checkpoint(folder / "ck"),
                       stimuli=make_stimuli(folder / "stimuli"), sid=sid, **study_fields)
    setup = E2EStudy(study_file=path, db_path=folder / "responses.sqlite", cache_dir=folder / "cache")
    precompute(setup)
    with StreamlitServer(server_env(setup), log) as server:
        server.setup = setup
        yield server
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]
