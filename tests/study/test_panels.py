"""Panels (similar examples, prediction grid, concepts) as arms of a study: named in the study file, resolved and
checked like stimuli, keyed in the plan as the map service serves them, recorded when shown and exported with
their quality figures. Real: the bundled cat/dog ResNet18, the demo's pet photos, a pool copied from the demo's."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import pytest

from study.kit import answer_for
from study_app.study import StudyFileError, load_study
from study_app.study.design import build_plan, select_items
from study_app.study.predictions import predict_task

ROOT = Path(__file__).resolve().parents[2]
CHECKPOINT = ROOT / "checkpoints" / "catdog_resnet18"
STIMULI = ROOT / "demo" / "stimuli" / "pets"
DEMO_POOL = ROOT / "demo" / "pools" / "pets"

HEADER = """\
[study]
id = "panels"
title = "Panels"
seed = 3
completion_code = "X"
consent = "ok"
instructions = "go"
keep_external_ids = false

[design]
type = "within"

[[methods]]
name = "gradcam"
label = "Grad-CAM"

[[methods]]
key = "examples"
name = "similar_examples"
label = "Similar photos"
params = {{ pool = "{pool}", k = {k} }}

[[methods]]
key = "grid"
name = "prediction_grid"
label = "Prediction grid"
params = {{ pool = "{pool}", n = 2 }}
"""

TASK = """
[[tasks]]
name = "{name}"
protocol = "{protocol}"
checkpoint = "{checkpoint}"
stimuli = "{stimuli}"
trials = {trials}
{extra}
"""


@pytest.fixture(scope="module")
def pool(tmp_path_factory) -> Path:
    """Five photos per class from the demo's pool (none is a demo stimulus)."""
    root = tmp_path_factory.mktemp("pool") / "pets"
    for label in ("cat", "dog"):
        (root / label).mkdir(parents=True)
        for f in sorted((DEMO_POOL / label).glob("*.jpg"))[:5]:
            shutil.copy(f, root / label / f.name)
    return root


def write(folder: Path, tasks: str, pool: Path | str = "pool/pets", k: int = 3) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "study.toml"
    path.write_text(HEADER.format(pool=Path(pool).as_posix(), k=k) + tasks, encoding="utf-8")
    return path


def task(name="verify", protocol="verification", trials=6, extra='methods = ["gradcam", "examples", "grid"]'):
    return TASK.format(name=name, protocol=protocol, checkpoint=CHECKPOINT.as_posix(), stimuli=STIMULI.as_posix(),
                       trials=trials, extra=extra)


@pytest.fixture
def study_dir(tmp_path, pool) -> Path:
    shutil.copytree(pool, tmp_path / "pool" / "pets")
    return tmp_path


def test_a_pool_is_resolved_against_the_study_file_and_tasks_show_their_own_methods(study_dir):
    study = load_study(write(study_dir, task() + task("verify_maps", extra='methods = ["gradcam"]')))
    examples = study.method("examples")
    assert examples.params["pool"] == str((study_dir / "pool" / "pets").resolve())
    first, second = study.tasks
    assert study.task_arms(first) == ("gradcam", "examples", "grid")
    assert study.task_arms(second) == ("gradcam",)
    preds = {t.name: predict_task(t) for t in study.tasks}
    plan = build_plan(study, select_items(study, preds), preds, 0, 1)
    assert {a for s in plan.trial_steps if s.task == "verify_maps" for a in s.arms} == {"gradcam"}
    assert {a for s in plan.trial_steps if s.task == "verify" for a in s.arms} == {"gradcam", "examples", "grid"}


@pytest.mark.parametrize("extra, field, message", [
    ('methods = ["lime"]', "tasks[0].methods", "'lime' is not a method key"),
    ("methods = []", "tasks[0].methods", "non-empty list"),
])
def test_a_task_names_only_the_study_methods(study_dir, extra, field, message):
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task(extra=extra)))
    assert err.value.field == field and message in str(err.value)


def test_bad_pools_are_refused_naming_the_field(study_dir):
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task(), pool="no/such/folder"))
    assert err.value.field == "methods[1].params.pool" and "folder not found" in str(err.value)
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task(), k=11))  # 10 photos in the pool
    assert err.value.field == "methods[1].params.pool" and "fewer than k=11" in str(err.value)
    (study_dir / "pool" / "pets" / "horse").mkdir()
    shutil.copy(next((study_dir / "pool" / "pets" / "cat").glob("*.jpg")), study_dir / "pool" / "pets" / "horse")
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task()))
    assert err.value.field == "methods[1].params.pool" and "'horse' is not a class of the model" in str(err.value)


def test_check_warns_when_a_pool_image_is_a_stimulus(study_dir, monkeypatch, capsys):
    from study_app.cli import main

    shutil.copy(STIMULI / "cat" / "cat_0001.jpg", study_dir / "pool" / "pets" / "cat" / "copy_of_stimulus.jpg")
    path = write(study_dir, task())
    monkeypatch.setenv("XAI_STUDY_RESEARCHER_PASSWORD", "a long enough password here")
    main(["check", "--study", str(path), "--db", f"sqlite:///{study_dir / 'r.sqlite'}"])
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if "no example or concept image is a stimulus" in x)
    assert line.startswith("warn") and "copy_of_stimulus.jpg: same image as a stimulus" in line
    assert next(x for x in out.splitlines() if "example and concept folders usable" in x).startswith("ok")


def _served(study, service, seed=1, condition=0):
    from study_app.study.showing import record_showing

    preds = {t.name: predict_task(t) for t in study.tasks}
    plan = build_plan(study, select_items(study, preds), preds, condition, seed)
    return [(step, record_showing(step, service)) for step in plan.trial_steps if step.maps]


def test_panels_are_keyed_served_recorded_and_counted_like_maps(study_dir):
    from study_app.maps.coverage import missing_cache_entries, precompute_study
    from study_app.maps.service import make_map_service

    study = load_study(write(study_dir, task()))
    service = make_map_service(study_dir / "cache")
    total, missing = missing_cache_entries(study, service)
    assert total == 36 and len(missing) == 36  # 12 photos × 3 arms
    precompute_study(study, service)
    assert missing_cache_entries(study, service)[1] == []
    shown = _served(study, service)
    kinds = set()
    for step, record in shown:
        (planned,), (rec,) = step.maps, record.maps
        assert rec.cache_key == planned.cache_key and rec.png_sha256  # the plan names what is served
        kinds.add(planned.name)
        if planned.name == "similar_examples":
            assert 0 <= rec.quality["label_agreement"] <= 1 and -1 <= rec.quality["mean_similarity"] <= 1
        elif planned.name == "gradcam":
            assert rec.quality is None
    assert kinds == {"gradcam", "similar_examples", "prediction_grid"}


def test_distinction_shows_each_candidate_class_its_own_examples(study_dir):
    from study_app.maps.service import MapRequest, make_map_service

    study = load_study(write(study_dir, task("dist", "distinction", trials=2, extra='k = 2\nmethods = ["examples"]')))
    service = make_map_service(study_dir / "cache")
    from study_app.study.protocols import protocol_of
    from study_app.study.steps import PHASE_MAIN

    assert "map" not in protocol_of("distinction").prompt(PHASE_MAIN)  # the candidates may be shown as panels
    for step, record in _served(study, service):
        assert {m.target for m in step.maps} == {"cat", "dog"}
        for planned, rec in zip(step.maps, record.maps, strict=True):
            served = service.cached(MapRequest.on_trial(step.checkpoint, step.image_path, planned.shown()))
            assert served.description.labels == ((planned.target, 3),)  # 3 photos, all labelled the candidate
            assert rec.cache_key == planned.cache_key and rec.quality["label_agreement"] is None


def test_an_other_image_placebo_of_similar_examples_shows_another_photos_examples(study_dir):
    from study_app.maps.service import make_map_service

    extra = ('arms = ["ai", "examples", "placebo"]\nplacebo = { method = "examples", source = "other_image" }\n'
             "ai_wrong_share = 0.5")
    study = load_study(write(study_dir, task("decide", "decision", trials=6, extra=extra)))
    service = make_map_service(study_dir / "cache")
    shown = _served(study, service)
    placebos = [(s, r) for s, r in shown if s.advice.arm == "placebo"]
    assert placebos
    for step, record in placebos:
        (planned,), (rec,) = step.maps, record.maps
        assert planned.image_id not in (None, step.image_id) and rec.cache_key == planned.cache_key
        assert rec.image_sha256 != step.image_sha256 and rec.photo_sha256 == step.image_sha256


def test_a_placebo_that_would_equal_the_real_panel_is_refused(study_dir):
    extra = ('arms = ["ai", "grid", "placebo"]\nplacebo = { method = "grid", source = "other_image" }\n'
             "ai_wrong_share = 0.5")
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task("decide", "decision", trials=6, extra=extra)))
    assert err.value.field == "tasks[0].placebo.source" and "another image's is the real one" in str(err.value)
    extra = extra.replace('"grid", source = "other_image"', '"examples", source = "shuffled"')
    with pytest.raises(StudyFileError) as err:
        load_study(write(study_dir, task("decide", "decision", trials=6, extra=extra)))
    assert err.value.field == "tasks[0].placebo.source" and "shuffles a concepts panel" in str(err.value)


def test_the_export_carries_each_panel_quality_beside_the_answers(study_dir, make_engine_for, sqlite_repo):
    from study_app.export import response_rows
    from study_app.maps.service import make_map_service

    study = load_study(write(study_dir, task()))
    engine = make_engine_for(study, sqlite_repo, maps=make_map_service(study_dir / "cache"))
    rng = random.Random(2)
    for _ in range(3):  # three participants: every arm on some photo
        token = engine.start_or_resume(None)
        step = engine.current_step(token)
        while step.kind != "done":
            step = engine.submit(token, step.step_id, answer_for(step, rng))
    rows = response_rows(engine.repository, engine.record)
    examples = [r for r in rows if r["methods"] == "examples"]
    assert examples and all(0 <= r["panel_label_agreement"] <= 1 for r in examples)
    assert all(r["map_sha256"] and r["png_sha256"] for r in examples)
    assert all("panel_label_agreement" not in r for r in rows if r["methods"] == "gradcam")


@pytest.mark.parametrize("protocol, extra", [
    ("rate", 'display = "side_by_side"\nmethods = ["gradcam", "examples", "grid"]'),
    ("verification", 'methods = ["examples", "grid"]'),
    ("forward_simulation", 'learning_trials = 2\nmethods = ["examples", "grid"]'),
    ("distinction", 'k = 2\nmethods = ["examples", "grid"]'),
    ("decision", 'arms = ["human", "examples", "placebo"]\nplacebo = { method = "examples", source = "randomized_model" }'
                 "\nai_wrong_share = 0.5"),
])
def test_every_protocol_takes_panels_as_arms(protocol, extra, study_dir, make_engine_for, sqlite_repo):
    """A participant completes each protocol with panel arms; every panel shown is recorded with a PNG hash and the
    key the plan named, and a per-class panel on distinction trials."""
    from study_app.maps.service import make_map_service

    trials = 6 if protocol == "decision" else 4
    study = load_study(write(study_dir, task("t", protocol, trials=trials, extra=extra + "\nattention_checks = 1")))
    engine = make_engine_for(study, sqlite_repo, maps=make_map_service(study_dir / "cache"))
    rng = random.Random(4)
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    panels = 0
    while step.kind != "done":
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    for shown in engine.repository.shown_trials(engine.record.id):
        for rec in shown.maps:
            assert rec.png_sha256 and rec.cache_key
            if rec.name in ("similar_examples", "prediction_grid"):
                panels += 1
                assert rec.quality is not None
                assert (rec.target is not None) == (protocol == "distinction")
    assert panels


def test_a_concepts_arm_and_its_shuffled_placebo(study_dir, make_engine_for, sqlite_repo):
    """Concepts (TCAV on the demo's concept folders) as an arm of a decision task, and its placebo: the same panel
    of the shown image's class with the scores permuted over the concepts, exported as shuffled."""
    from study_app.export import response_rows
    from study_app.maps.service import make_map_service

    concepts = (ROOT / "demo" / "concepts" / "pets").as_posix()
    extra = ('arms = ["ai", "concepts", "placebo"]\nplacebo = { method = "concepts", source = "shuffled" }\n'
             "ai_wrong_share = 0.5")
    path = write(study_dir, task("decide", "decision", trials=6, extra=extra))
    path.write_text(path.read_text(encoding="utf-8") + f"""
[[methods]]
key = "concepts"
name = "concepts"
label = "Concepts"
params = {{ pool = "{DEMO_POOL.as_posix()}", concepts = "{concepts}", runs = 4, max_images = 8 }}
""", encoding="utf-8")
    study = load_study(path)
    engine = make_engine_for(study, sqlite_repo, maps=make_map_service(study_dir / "cache"))
    rng = random.Random(3)
    for _ in range(3):
        token = engine.start_or_resume(None)
        step = engine.current_step(token)
        while step.kind != "done":
            step = engine.submit(token, step.step_id, answer_for(step, rng))
    rows = [r for r in response_rows(engine.repository, engine.record) if r["arm"] in ("concepts", "placebo")]
    real = {r["target_label"]: r["panel_concept_scores"] for r in rows if r["arm"] == "concepts"}
    fake = [r for r in rows if r["arm"] == "placebo"]
    assert real and fake
    assert all(r["panel_concepts_shuffled"] is False for r in rows if r["arm"] == "concepts")
    compared = 0
    for r in fake:
        assert r["panel_concepts_shuffled"] is True and r["method_names"] == "concepts"
        scores = dict(x.split("=") for x in r["panel_concept_scores"].split(";"))
        if r["target_label"] in real:  # the same scores, on other concepts (a derangement of two: swapped)
            own = dict(x.split("=") for x in real[r["target_label"]].split(";"))
            assert sorted(scores.values()) == sorted(own.values()) and scores != own
            compared += 1
    assert compared


def test_a_preregistration_names_each_folder_by_its_place_and_content(study_dir):
    """No machine path in the document; the folder's content hash pins the images (an edited image changes it)."""
    from study_app.explain.panels import described_params

    params = {"pool": "pool/pets", "k": 3}
    first = described_params(params, study_dir)
    assert first["pool"].startswith("pool/pets (SHA-256 ") and str(study_dir) not in first["pool"]
    assert described_params({"pool": str(study_dir / "pool" / "pets"), "k": 3}, study_dir) == first  # resolved
    image = next((study_dir / "pool" / "pets" / "dog").glob("*.jpg"))
    image.write_bytes(image.read_bytes() + b"\0")
    assert described_params(params, study_dir)["pool"] != first["pool"]
