"""The decision protocol's placebo in a real browser: the map is drawn over the shown image's own photo.

A placebo arm (``source = "other_image"``) shows another image's map of the same method and class. Drawn over
that other image's photo, participants would see at once that it belongs to another picture and the arm would
measure nothing. This test walks a participant through a decision study whose two arms are Integrated
Gradients and its placebo (one trial each) in Chromium, fetches the pictures the page shows, and checks on
the placebo trial that the map picture is the shown image's photo under the other image's map: equal to the
one renderer's drawing of that map over the shown image, and, wherever the map found no evidence, the very
pixels of the trial's own picture (not of the map's source image). Integrated Gradients, because on the
32 px test model its maps leave much of the photo untinted (Grad-CAM's 1×1 last layer tints all of it).
"""

from __future__ import annotations

import hashlib
import io
import re

import numpy as np
import pytest
from playwright.sync_api import expect
from study.kit import make_checkpoint, make_stimuli, write_study

from e2e.browser_steps import TIMEOUT_MS, choose, click, shot, wait_text
from e2e.conftest import ARTIFACTS
from e2e.study_setup import E2EStudy, open_repository, precompute, server_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

METHOD = "integrated_gradients"
EXTRA = (f'arms = ["{METHOD}", "placebo"]\nplacebo = {{ method = "{METHOD}", source = "other_image" }}\n'
         'ai_wrong_share = 0.5\nvariant = "one_step"\n')
PID = "e2e-placebo"
ANSWER = re.compile(r"^Your (final )?answer$")


@pytest.fixture(scope="module")
def placebo_server(tmp_path_factory, chromium):  # chromium first: a missing browser skips before any work
    from e2e.streamlit_server import StreamlitServer

    folder = tmp_path_factory.mktemp("e2e_placebo")
    checkpoint = make_checkpoint(folder / "checkpoints" / "tiny_resnet18")
    stimuli = make_stimuli(folder / "stimuli" / "pets")
    study_file = write_study(folder / "studies", "decision", checkpoint=checkpoint, stimuli=stimuli, trials=2,
                             checks=0, keep=True, sid="e2e-placebo", extra=EXTRA)
    setup = E2EStudy(study_file=study_file, db_path=folder / "responses.sqlite", cache_dir=folder / "cache")
    precompute(setup)
    log = ARTIFACTS / "placebo_server.log"
    with StreamlitServer(server_env(setup), log) as server:
        yield setup, server
    assert "Traceback" not in server.log_text(), server.log_text()[-4000:]


def _pixels(png: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _served_pictures(page) -> list[bytes]:
    """The bytes of every picture on the trial page, as the browser received them (picture first, then maps)."""
    page.wait_for_function("() => [...document.querySelectorAll(\"[data-testid='stImage'] img\")]"
                           ".every(i => i.complete && i.naturalWidth > 0)", timeout=TIMEOUT_MS)
    sources = page.locator("[data-testid='stImage'] img").evaluate_all("els => els.map(e => e.src)")
    out = []
    for src in sources:
        response = page.request.get(src)
        assert response.ok, (src, response.status)
        out.append(response.body())
    return out


def test_the_placebo_trial_shows_the_shown_images_own_photo_under_the_map(chromium, placebo_server, artifacts):
    setup, server = placebo_server
    context = chromium.new_context(viewport={"width": 1100, "height": 900})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    pictures: dict[int, list[bytes]] = {}
    try:
        page.goto(f"{server.url}/?PROLIFIC_PID={PID}&STUDY_ID=s1&SESSION_ID=x1")
        wait_text(page, "You agree to take part.")
        click(page, "I agree — start the study")
        wait_text(page, "A few questions about you")
        choose(page, "What is your age?", "25-34")
        choose(page, "How much experience do you have with machine learning?", "I have used ML tools")
        choose(page, "How familiar are you with the kind of images in this study?", "4")
        click(page, "Continue")
        expect(page.get_by_role("button", name="I understand — begin")).to_be_visible()
        click(page, "I understand — begin")
        for trial in range(2):
            wait_text(page, f"Image {trial + 1} of 2")
            answer = page.get_by_role("radiogroup", name=ANSWER)  # "Your answer" when asked only once
            expect(answer).to_be_visible()
            pictures[trial] = _served_pictures(page)
            shot(page, artifacts, f"trial_{trial + 1}")
            answer.get_by_text("cat", exact=True).click()
            expect(answer.get_by_role("radio", name="cat", exact=True)).to_be_checked()
            choose(page, "How confident are you?", "4")
            click(page, "Continue")
        wait_text(page, "Thank you!")
        assert "Traceback" not in page.content()
    finally:
        context.close()

    from study_app.explain.render import render_explanation
    from study_app.maps.service import make_map_service
    from study_app.study import load_study

    study = load_study(setup.study_file)
    stimuli = {s.sha256: s for s in study.tasks[0].stimuli}
    repo, record = open_repository(setup)
    try:
        participant = next(p for p in repo.participants(record.id) if p.prolific_pid == PID)
        shown = {r.trial_index: r for r in repo.shown_trials(record.id) if r.participant_id == participant.id}
    finally:
        repo.dispose()
    assert sorted(m.key for r in shown.values() for m in r.maps) == sorted([METHOD, "placebo"])
    maps = make_map_service(setup.cache_dir)
    ckpt = maps.checkpoint(study.tasks[0].checkpoint)
    for trial, served in pictures.items():
        record_ = shown[trial]
        (m,) = record_.maps
        photo = stimuli[record_.image_sha256]  # the trial's image
        picture, map_png = _pixels(served[0]), _pixels(served[1])
        assert len(served) == 2 and hashlib.sha256(served[1]).hexdigest() == m.png_sha256  # the PNG recorded
        assert np.array_equal(picture, np.asarray(maps.service.display(ckpt, photo.path)))  # the trial's photo
        assert m.photo_sha256 == photo.sha256  # recorded as drawn over the trial's own image
        source = photo if m.image_id is None else next(s for s in stimuli.values() if s.image_id == m.image_id)
        explanation = maps.service.get_or_compute(ckpt, source.path, METHOD, dict(study.method(METHOD).params),
                                                  target=m.target_index)
        assert m.target_label == record_.target_label  # the class the advice names
        expected = render_explanation(maps.service.display(ckpt, photo.path), explanation.map_hw)
        assert np.array_equal(map_png, _pixels(expected.png))
        # Where the map found no evidence the photo shows through: the trial's own picture's pixels.
        untinted = (map_png == picture).all(axis=-1).mean()
        assert untinted > 0.2, f"only {untinted:.0%} of the map shows the trial's photo"
        if m.key == "placebo":
            assert source.image_id != photo.image_id  # another image's map...
            other = np.asarray(maps.service.display(ckpt, source.path))
            assert (map_png == other).all(axis=-1).mean() < 0.05  # ...not over that image's photo
