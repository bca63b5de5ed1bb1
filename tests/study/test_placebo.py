"""The decision protocol's placebo looks like a real map of the shown image: the same method and class, drawn
over the shown image's own photo, from another image of the same predicted class where there is one; it is
recorded as such, and a pool that cannot supply it is refused naming the field."""

from __future__ import annotations

import hashlib
import io
import random
import shutil
from types import SimpleNamespace

import numpy as np
import pytest
from PIL import Image

from study.kit import predictions_for, run_participant, write_study
from study_app.explain.render import render_explanation
from study_app.export import response_rows
from study_app.maps.coverage import precompute_study, required_maps
from study_app.maps.service import MapRequest, make_map_service
from study_app.study import load_study
from study_app.study.design import build_plan, condition_labels, select_items
from study_app.study.errors import StudyFileError
from study_app.study.placebo import placebo_problems, source_candidates
from study_app.study.protocols.base import map_cache_key

ARMS = '["human", "ai", "gradcam", "placebo"]'


def extra(source: str = "other_image", arms: str = ARMS, share: float = 0.5) -> str:
    return (f'arms = {arms}\nplacebo = {{ method = "gradcam", source = "{source}" }}\n'
            f"ai_wrong_share = {share}\n")


def _placebo_steps(study, preds, seeds=range(4)):
    """Every placebo step with its map, over all conditions and a few seeds."""
    items = select_items(study, preds)
    for condition in range(len(condition_labels(study))):
        for seed in seeds:
            for s in build_plan(study, items, preds, condition, seed).trial_steps:
                if s.advice is not None and s.advice.arm == "placebo" and s.maps:
                    yield s


def _sha(path) -> str:
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_other_image_placebo_explains_the_shown_class_from_another_image_of_that_class(make_study):
    study = make_study("decision", trials=8, checks=1, extra=extra())
    preds = predictions_for(study)["pets"]
    stimuli = {s.image_id: s for s in study.tasks[0].stimuli}
    by_class = {label: sum(p.label == label for p in preds.by_image.values()) for label in ("cat", "dog")}
    assert min(by_class.values()) >= 2, "the tiny model must predict each class for two stimuli at least"
    method = study.method("gradcam")
    steps = list(_placebo_steps(study, {"pets": preds}))
    assert len(steps) >= 16
    for s in steps:
        (m,) = s.maps
        source = stimuli[m.image_id]
        assert m.image_id == s.advice.placebo_image_id != s.image_id  # never the shown image's own map
        assert (m.key, m.name, m.label, m.randomized_model) == ("placebo", "gradcam", method.label, False)
        assert m.target_index == s.target_index and s.target_label == s.model.label  # the class the advice names
        assert preds.by_image[source.image_id].label == s.model.label  # a source the model predicts as that class
        assert m.image_sha256 == source.sha256 != s.image_sha256
        assert m.cache_key == map_cache_key(preds, source.sha256, method, s.target_index)
    assert len({s.maps[0].image_id for s in steps}) > 2  # drawn, not always the same source


def test_randomized_model_placebo_is_the_shown_images_map_on_the_random_model(make_study):
    study = make_study("decision", trials=8, checks=0, extra=extra("randomized_model"))
    preds = predictions_for(study)
    for s in _placebo_steps(study, preds, seeds=range(2)):
        (m,) = s.maps
        assert m.randomized_model and m.image_id is None and s.advice.placebo_image_id is None
        assert m.target_index == s.target_index


def test_sources_prefer_the_same_predicted_class_else_any_other_image():
    labels = {"a": "cat", "b": "dog", "c": "cat", "d": "cat"}
    task = SimpleNamespace(name="t", stimuli=[SimpleNamespace(image_id=i) for i in labels])
    preds = SimpleNamespace(by_image={i: SimpleNamespace(label=label) for i, label in labels.items()})
    assert source_candidates(task, preds, "a") == ["c", "d"]
    assert source_candidates(task, preds, "b") == ["a", "c", "d"]  # no other dog: any other image
    task.stimuli = task.stimuli[:1]
    assert source_candidates(task, preds, "a") == []


@pytest.fixture
def lone_dog_study(tmp_path, checkpoint_dir, stimuli_dir):
    """A decision study whose stimuli hold exactly one image the model predicts as dog (and AI-wrong ones)."""
    preds = predictions_for(load_study(write_study(tmp_path / "probe", "decision", checkpoint=checkpoint_dir,
                                                   stimuli=stimuli_dir, trials=8, checks=0, extra=extra())))["pets"]
    dogs = sorted(i for i, p in preds.by_image.items() if p.label == "dog" and p.correct)
    cats = sorted(i for i, p in preds.by_image.items() if p.label == "cat" and p.correct)
    wrong = sorted(i for i, p in preds.by_image.items() if p.label == "cat" and not p.correct)
    chosen = [dogs[0], cats[0], *wrong[:3]]  # two AI-right images for two AI-right trials: the dog is in every plan
    folder = tmp_path / "lone_dog"
    for image_id in chosen:
        (folder / image_id).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(stimuli_dir / image_id, folder / image_id)
    study = load_study(write_study(tmp_path / "studies", "decision", checkpoint=checkpoint_dir, stimuli=folder,
                                   trials=4, checks=0, extra=extra()))
    return study, dogs[0]


def test_a_class_no_other_image_shares_takes_any_other_images_map_and_precompute_covers_it(lone_dog_study,
                                                                                          tmp_path):
    study, dog = lone_dog_study
    preds = predictions_for(study)
    assert [i for i, p in preds["pets"].by_image.items() if p.label == "dog"] == [dog]
    needed = required_maps(study, preds)
    for_dog = [r for _, r in needed if r.target_index == 1 and not r.image_path.endswith(dog)]
    assert len(for_dog) == len(study.tasks[0].stimuli) - 1  # every other image's gradcam map of "dog"
    assert len({r for _, r in needed}) == len(needed)  # listed once each
    maps = make_map_service(tmp_path / "cache")
    precompute_study(study, service=maps, predictions=preds)
    dog_steps = [s for s in _placebo_steps(study, preds, seeds=range(6)) if s.image_id == dog]
    assert dog_steps, "some plan must show the dog image on a placebo trial"
    for s in dog_steps:
        assert s.maps[0].target_index == 1  # "dog", the class the advice names
        assert s.maps[0].image_id != dog and s.maps[0].cache_key in maps.service.cache


def test_a_one_image_pool_is_refused_naming_the_placebo_field(tmp_path, checkpoint_dir, stimuli_dir,
                                                              make_engine_for, sqlite_repo):
    from study_app.readiness import check_study
    from study_app.settings import Settings

    folder = tmp_path / "one"
    (folder / "cat").mkdir(parents=True)
    shutil.copy(stimuli_dir / "cat" / "cat_00.png", folder / "cat" / "cat_00.png")
    path = write_study(tmp_path / "studies", "decision", checkpoint=checkpoint_dir, stimuli=folder, trials=1,
                       checks=0, extra=extra(share=0.0))
    study = load_study(path)
    (problem,) = placebo_problems(study)
    assert problem.field == "tasks[0].placebo" and "other_image" in str(problem)
    with pytest.raises(StudyFileError, match=r"tasks\[0\]\.placebo: .*fewer than two stimuli"):
        make_engine_for(study, sqlite_repo)
    checks = {c.name: c for c in check_study(Settings.given(path, "pw"),
                                             db_url=f"sqlite:///{tmp_path / 'check.sqlite'}")}
    drawable = checks["decision trials drawable"]
    assert not drawable.ok and drawable.blocking and "tasks[0].placebo" in drawable.detail
    assert placebo_problems(load_study(write_study(tmp_path / "ok", "decision", checkpoint=checkpoint_dir,
                                                   stimuli=folder, trials=1, checks=0,
                                                   extra=extra("randomized_model", share=0.0)))) == []


def _pixels(png: bytes) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def test_the_placebo_is_drawn_over_the_shown_image_and_recorded_and_exported_as_such(make_study, make_engine_for,
                                                                                     repo, clock, tmp_path):
    study = make_study("decision", trials=8, checks=1, extra=extra())
    maps = make_map_service(tmp_path / "cache")
    engine = make_engine_for(study, repo, maps=maps)
    for i in range(2):
        run_participant(engine, random.Random(i), clock=clock)
    stimuli = {s.image_id: s for s in study.tasks[0].stimuli}
    preds = engine.predictions["pets"]
    shown = [r for r in repo.shown_trials(engine.record.id) if r.maps and r.maps[0].key == "placebo"]
    assert len(shown) == 4  # two placebo trials each
    for record in shown:
        (m,) = record.maps
        photo = next(s for s in stimuli.values() if s.sha256 == record.image_sha256)  # the trial's image
        source = stimuli[m.image_id]
        assert source.image_id != photo.image_id and m.image_sha256 == source.sha256 == _sha(source.path)
        assert m.photo_sha256 == record.image_sha256 == _sha(photo.path)  # drawn over the shown image's photo
        assert m.target_label == record.target_label == preds.by_image[photo.image_id].label
        assert m.target_index == record.target_index
        # The served PNG is the one renderer's drawing of the source's map over the shown image, not over its own.
        ckpt = maps.checkpoint(study.tasks[0].checkpoint)
        explanation = maps.service.get_or_compute(ckpt, source.path, "gradcam", target=m.target_index)
        over_shown = render_explanation(maps.service.display(ckpt, photo.path), explanation.map_hw,
                                        method_label="Grad-CAM").png
        over_source = render_explanation(maps.service.display(ckpt, source.path), explanation.map_hw,
                                         method_label="Grad-CAM").png
        assert m.png_sha256 == hashlib.sha256(over_shown).hexdigest()
        assert not np.array_equal(_pixels(over_shown), _pixels(over_source))
        assert m.cache_key == explanation.key and m.map_sha256 == explanation.map_sha256
    # The page asks the service the same way (MapRequest.on_trial) and draws the very PNG recorded.
    trial = SimpleNamespace(checkpoint=study.tasks[0].checkpoint, image_path=photo.path)
    placebo_method = SimpleNamespace(key="placebo", name="gradcam", label="Grad-CAM", params={},
                                     randomized_model=False, target_index=m.target_index, image_path=source.path)
    page = maps.cached(MapRequest.on_trial(trial.checkpoint, trial.image_path, placebo_method))
    assert page.png_sha256 == m.png_sha256 and page.photo_sha256 == photo.sha256

    rows = [r for r in response_rows(repo, engine.record) if not r["is_attention_check"]]
    placebo_rows = [r for r in rows if r["arm"] == "placebo"]
    assert len(placebo_rows) == 4
    for r in placebo_rows:
        source = stimuli[r["placebo_image_id"]]
        assert (r["placebo_source"], r["placebo_method"], r["methods"]) == ("other_image", "gradcam", "placebo")
        assert r["placebo_image_id"] != r["image_id"] and r["placebo_image_sha256"] == source.sha256
        assert r["target_label"] == r["map_targets"] == r["predicted_label"]  # the class the map explains
        assert r["randomized_model"] is False
    for r in rows:  # every map names the class it explains
        assert r["map_targets"] == (r["predicted_label"] if r["arm"] in ("gradcam", "placebo") else None)
