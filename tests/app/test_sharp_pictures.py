"""Pictures at display resolution: a trial, the worked example and the gallery show the region the model saw,
cut from the original (not upscaled from the 32 px model input), and every map drawn at the same size."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image
from study.kit import CLASSES

from app.drive import answer_step, current_kind, new_app
from study_app.ui import state_keys, stimulus_view

ORIGINAL = (400, 300)  # larger than the tiny checkpoint's 32 px input; the shorter side is under DISPLAY_PX
SIDE = 300


@pytest.fixture(scope="module")
def large_stimuli(tmp_path_factory):
    directory = tmp_path_factory.mktemp("large_stimuli") / "pets"
    rng = np.random.default_rng(3)
    for label in CLASSES:
        (directory / label).mkdir(parents=True)
        for i in range(5):
            coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
            Image.fromarray(coarse).resize(ORIGINAL, Image.Resampling.BICUBIC).save(directory / label / f"{i}.png")
    return directory


@pytest.fixture
def shown(monkeypatch):
    """Every picture a page draws, as ``(alt, size)``, in order."""
    pictures: list[tuple[str, tuple[int, int]]] = []
    draw = stimulus_view.show_picture

    def record(png, alt, *args, **kwargs):
        pictures.append((alt, Image.open(io.BytesIO(png)).size))
        return draw(png, alt, *args, **kwargs)

    monkeypatch.setattr(stimulus_view, "show_picture", record)
    return pictures


def test_trial_and_worked_example_show_the_photo_and_its_maps_at_display_resolution(setup_study, large_stimuli,
                                                                                    shown):
    setup_study("verification", stimuli=large_stimuli)
    at = new_app().run()
    while current_kind(at) != "instructions":
        answer_step(at)
    assert [size for _, size in shown] == [(SIDE, SIDE)] * 2, shown  # the worked example: image and map
    shown.clear()
    answer_step(at)
    assert current_kind(at) == "trial"
    assert [size for _, size in shown] == [(SIDE, SIDE)] * 2, shown  # the image and its map


def test_gallery_shows_the_photos_and_maps_at_display_resolution(setup_study, large_stimuli, shown):
    setup_study("verification", stimuli=large_stimuli)
    at = new_app().run()
    while current_kind(at) != "trial":  # the first trial computes (and caches) its maps
        answer_step(at)
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    shown.clear()
    at.switch_page("app_pages/researcher_gallery.py").run()
    assert not at.exception, [e.value for e in at.exception]
    photos = [size for alt, size in shown if alt.startswith("Stimulus ")]
    maps = [size for alt, size in shown if not alt.startswith("Stimulus ")]
    assert len(photos) == 6 and maps, shown
    assert set(photos) == set(maps) == {(SIDE, SIDE)}
