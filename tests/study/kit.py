"""Shared test material for the engine and store tests: a real tiny checkpoint, generated stimuli, study
files per protocol, a controllable clock, and simulated participants that answer whatever step they get.

Imported by ``tests/study/conftest.py`` and ``tests/store/conftest.py`` (both packages, so ``study.kit``
is importable from either).
"""

from __future__ import annotations

import datetime as dt
import os
import random
import re
import threading
from pathlib import Path

import pytest
from PIL import Image

from study_app.study.steps import (
    EFFECT_OPTIONS,
    PHASE_EXPLANATION,
    PHASE_LEARN,
    PHASE_TRUST,
    RATE,
    VERIFICATION,
    Step,
)

CLASSES = ("cat", "dog")

# Reusable study-file fragments.
STUDY_HEADER = """\
[study]
id = "{sid}"
title = "Test study: {protocol}"
seed = 7
completion_code = "DONE-42"
redirect_url = "https://app.prolific.com/submissions/complete?cc=DONE-42"
redirect_seconds = 0  # the link only; tests/e2e/test_recruitment_round_trip.py covers the automatic return
consent = "You agree to take part."
instructions = "Answer each **question**."
keep_external_ids = {keep}
inactive_timeout_minutes = 30

[design]
type = "{design}"
control = {control}
{negative}
[[methods]]
name = "gradcam"
label = "Grad-CAM"

[[methods]]
name = "integrated_gradients"
label = "Integrated Gradients"
params = {{ n_steps = 16 }}
"""

DECISION_EXTRA = """\
arms = ["human", "ai", "gradcam", "placebo"]
placebo = { method = "gradcam", source = "randomized_model" }
ai_wrong_share = 0.5
"""

TASK = """
[[tasks]]
name = "{task}"
protocol = "{protocol}"
checkpoint = "{checkpoint}"
stimuli = "{stimuli}"
trials = {trials}
attention_checks = {checks}
{extra}
"""


def make_checkpoint(directory: Path) -> Path:
    """A real resnet18 checkpoint with a 32 px input and classes cat/dog (random weights, seeded)."""
    import torch

    from trainers.checkpoint import CardBuilder, save_checkpoint
    from trainers.models import build_resnet

    torch.manual_seed(0)
    return save_checkpoint(directory, build_resnet("resnet18", 2), CardBuilder("resnet18", list(CLASSES), 32))


def make_stimuli(directory: Path, per_class: int = 10) -> Path:
    """Tiny distinct PNGs in class folders; varied colours so a random model does not predict one class only."""
    rng = random.Random(1)
    for label in CLASSES:
        (directory / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            colour = tuple(rng.randrange(256) for _ in range(3))
            img = Image.new("RGB", (20, 16), colour)
            img.putpixel((i % 20, i % 16), (255 - colour[0], 0, 255))
            img.save(directory / label / f"{label}_{i:02d}.png")
    return directory


def write_study(folder: Path, protocol: str, *, checkpoint: Path, stimuli: Path, trials: int = 4,
                checks: int = 1, design: str = "within", control: bool = False, negative: str | None = None,
                keep: bool = False, sid: str | None = None, extra: str = "", tasks: str | None = None,
                tail: str = "") -> Path:
    """Write a study file for one protocol and return its path."""
    if not extra:
        extra = {"forward_simulation": "learning_trials = 4", "distinction": "k = 2",
                 "decision": DECISION_EXTRA}.get(protocol, "")
    text = STUDY_HEADER.format(
        sid=sid or f"test-{protocol}", protocol=protocol, keep=str(keep).lower(), design=design,
        control=str(control).lower(), negative=f'negative_control = "{negative}"\n' if negative else "",
    )
    text += tasks if tasks is not None else TASK.format(
        task="pets", protocol=protocol, checkpoint=checkpoint.as_posix(), stimuli=stimuli.as_posix(),
        trials=trials, checks=checks, extra=extra,
    )
    text += tail
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{sid or protocol}.toml"
    path.write_text(text, encoding="utf-8")
    return path


class FakeClock:
    """A clock tests move by hand, so timeouts and response times are exact and instant."""

    def __init__(self, start: dt.datetime | None = None):
        self.now = start or dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
        self._lock = threading.Lock()

    def __call__(self) -> dt.datetime:
        with self._lock:
            return self.now

    def advance(self, **kwargs) -> None:
        with self._lock:
            self.now += dt.timedelta(**kwargs)


def answer_for(step: Step, rng: random.Random | None = None, *, pass_checks: bool = True) -> dict:
    """A valid answer to any step, as a participant clicking through would give."""
    rng = rng or random.Random(0)
    if step.kind == "consent":
        return {"agree": True}
    if step.kind == "instructions":  # comprehension questions, if any, answered right
        return {q.id: q.correct for q in step.questions}
    if step.kind == "done":
        return {}
    if step.kind in ("pre_questionnaire", "arm_questionnaire", "post_questionnaire", "hive_before", "hive_after",
                     "hive_reveal"):
        out = {}
        for q in step.questions:
            if q.kind == "choice":
                out[q.id] = rng.choice(q.options)
            elif q.kind == "likert":
                out[q.id] = rng.randint(q.low, q.high)
            elif q.kind == "rank":
                out[q.id] = rng.sample(list(q.options), len(q.options))
            elif q.kind == "number":
                out[q.id] = q.low if q.low is not None else 1
            else:
                out[q.id] = "fine"
        return out
    assert step.kind == "trial", step
    trial = step.trial
    low, high = trial.scale
    if trial.phase == PHASE_LEARN:
        return {}
    if trial.protocol == RATE and trial.phase == PHASE_TRUST:
        answer = {"trust": rng.randint(low, high)}
    elif trial.protocol == RATE and trial.phase == PHASE_EXPLANATION:
        answer = {"effect": {m.key: rng.choice(EFFECT_OPTIONS) for m in trial.methods}}
    elif trial.protocol == VERIFICATION:
        answer = {"decision": rng.choice(["accept", "reject"]), "confidence": rng.randint(low, high)}
    elif trial.protocol == "decision":  # phase initial or final; on request, ask for the advice after 1.5 s
        answer = {trial.phase: rng.choice(trial.options), f"confidence_{trial.phase}": rng.randint(low, high)}
        if trial.advice_on_request:
            answer.update(advice_requested=True, advice_requested_ms=1500)
    else:
        answer = {"choice": rng.choice(trial.options), "confidence": rng.randint(low, high)}
    if trial.is_attention_check and pass_checks:
        # Read the instruction the way a participant would: the quoted option, or the number.
        prompt = trial.attention_prompt
        if "trust" in answer:
            answer["trust"] = high if str(high) in prompt else low
        elif "decision" in answer:
            answer["decision"] = asked_decision(prompt)
        elif trial.protocol == "decision":
            answer[trial.phase] = next(o for o in trial.options if trial.class_label(o) == quotes(prompt))
        else:
            answer["choice"] = next(o for o in trial.options if trial.class_label(o) == quotes(prompt))
    return answer


def quotes(prompt: str) -> str | None:
    """The option an attention check quotes (English “...” or German „...“ quotation marks; plans stored before
    the prompt quoted option labels quoted the stored value in '...')."""
    found = re.search(r"[“„]([^”“]+)[”“]", prompt) or re.search(r"'([^']+)'", prompt)
    return found.group(1) if found else None


def asked_decision(prompt: str) -> str:
    """The verification answer (``accept``/``reject``) an attention check asks for, read as a participant would:
    the option label it quotes, in whichever language the study speaks."""
    from study_app.i18n import available_languages, translator
    from study_app.study.steps import DECISION_LABELS

    for value, label in DECISION_LABELS.items():
        if quotes(prompt) == value or any(translator(lang).gettext(label) == quotes(prompt) for lang in available_languages()):
            return value
    raise AssertionError(f"the attention check quotes no option label: {prompt!r}")


def run_participant(engine, rng: random.Random | None = None, external_ids: dict | None = None,
                    clock: FakeClock | None = None, max_steps: int = 500) -> tuple[str, list[Step]]:
    """Drive one simulated participant from arrival to the done page; returns token and the steps seen."""
    rng = rng or random.Random(0)
    token = engine.start_or_resume(None, external_ids=external_ids)
    step = engine.current_step(token)
    seen = [step]
    for _ in range(max_steps):
        if step.kind == "done":
            return token, seen
        if clock is not None:
            clock.advance(seconds=2)
        step = engine.submit(token, step.step_id, answer_for(step, rng))
        seen.append(step)
    raise AssertionError("participant never reached the done page")


def postgres_url() -> str:
    """The test server's URL; skips when none is reachable, unless CI demands one (then fails)."""
    url = os.environ.get("XAI_STUDY_TEST_PG_URL", "").strip()
    required = os.environ.get("XAI_STUDY_REQUIRE_PG", "").strip() not in ("", "0")
    if not url:
        if required:
            pytest.fail("XAI_STUDY_REQUIRE_PG is set but XAI_STUDY_TEST_PG_URL is not")
        pytest.skip("no PostgreSQL server: set XAI_STUDY_TEST_PG_URL to run these tests")
    from sqlalchemy import create_engine, text

    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver or connection failure
        if required:
            pytest.fail(f"PostgreSQL at {url} is required (XAI_STUDY_REQUIRE_PG) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {url} unreachable: {exc}")
    return url


# ---- fixtures (imported by the conftest of tests/study and tests/store) --------------------------------

_PREDICTIONS: dict = {}


def predictions_for(study):
    """Model outputs for a study, computed once per (checkpoint, stimuli) in the whole session."""
    from study_app.study.predictions import predict_task

    out = {}
    for task in study.tasks:
        key = (task.checkpoint, tuple(s.sha256 for s in task.stimuli))
        if key not in _PREDICTIONS:
            _PREDICTIONS[key] = predict_task(task)
        out[task.name] = _PREDICTIONS[key]
    return out


@pytest.fixture(scope="session")
def checkpoint_dir(tmp_path_factory) -> Path:
    return make_checkpoint(tmp_path_factory.mktemp("ckpt") / "tiny_resnet18")


@pytest.fixture(scope="session")
def stimuli_dir(tmp_path_factory) -> Path:
    return make_stimuli(tmp_path_factory.mktemp("stimuli") / "pets")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def sqlite_repo(tmp_path):
    from study_app.store import Repository, make_engine

    repo = Repository(make_engine(f"sqlite:///{tmp_path / 'responses.sqlite'}"))
    yield repo
    repo.dispose()


@pytest.fixture
def pg_repo():
    """A repository on the real PostgreSQL server, in a schema of its own that is dropped afterwards."""
    import secrets

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    from study_app.store import Repository, make_engine

    url = postgres_url()
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    scoped = make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
    repo = Repository(make_engine(scoped.render_as_string(hide_password=False)))
    try:
        yield repo
    finally:
        repo.dispose()
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def repo(request):
    """Runs the test once on SQLite and once on PostgreSQL."""
    return request.getfixturevalue("sqlite_repo" if request.param == "sqlite" else "pg_repo")


@pytest.fixture
def make_study(tmp_path, checkpoint_dir, stimuli_dir):
    """``make_study(protocol, **options) -> Study`` written to a temporary file and loaded."""
    from study_app.study import load_study

    def make(protocol: str, **options):
        return load_study(write_study(tmp_path / "studies", protocol, checkpoint=checkpoint_dir,
                                      stimuli=stimuli_dir, **options))

    return make


@pytest.fixture
def make_engine_for(clock):
    """``make_engine_for(study, repo) -> StudyEngine`` with session-cached predictions and the fake clock."""
    from study_app.study import StudyEngine

    def make(study, repository, **kwargs):
        kwargs.setdefault("clock", clock)
        return StudyEngine(study, repository, predictions=predictions_for(study), **kwargs)

    return make
