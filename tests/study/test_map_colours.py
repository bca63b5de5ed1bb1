"""The study file picks the maps' colour scheme (``[study] map_colours``, issue 27): checked when the file is read,
drawn by the map service, recorded with every map shown and exported (``map_colours``), since it changes what
participants see."""

from __future__ import annotations

import hashlib
import json
import random
import tomllib

import pytest

from study.kit import run_participant, write_study
from study_app.explain.colours import DEFAULT_MAP_COLOURS
from study_app.export import response_rows
from study_app.maps.service import MapRequest, make_map_service
from study_app.readiness import check_map_colours
from study_app.store import Repository, make_engine
from study_app.study import StudyFileError, load_study
from study_app.study.parser import parse_study
from study_app.study.plan import Plan


def _with_colours(path, value: str):
    path.write_text(path.read_text().replace("[study]\n", f"[study]\nmap_colours = {value}\n", 1))
    return path


def _study_file(tmp_path, checkpoint_dir, stimuli_dir, colours: str | None):
    path = write_study(tmp_path / "studies", "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir,
                       trials=2, checks=0)
    return path if colours is None else _with_colours(path, f'"{colours}"')


def test_the_default_is_the_scheme_measured_readable_and_inferno_can_be_chosen(tmp_path, checkpoint_dir,
                                                                               stimuli_dir):
    assert load_study(_study_file(tmp_path / "a", checkpoint_dir, stimuli_dir, None)).map_colours == "gnbu"
    assert DEFAULT_MAP_COLOURS == "gnbu"
    assert load_study(_study_file(tmp_path / "b", checkpoint_dir, stimuli_dir, "inferno")).map_colours == "inferno"


@pytest.mark.parametrize("value,words", [('"viridis"', "'viridis' is not a map colour scheme (available: gnbu, inferno)"),
                                         ("3", "got int"), ('""', "must not be empty")])
def test_an_unknown_scheme_is_a_one_line_error_naming_the_field(tmp_path, checkpoint_dir, stimuli_dir, value, words):
    path = _with_colours(_study_file(tmp_path, checkpoint_dir, stimuli_dir, None), value)
    with pytest.raises(StudyFileError) as err:
        parse_study(tomllib.loads(path.read_text()), "s.toml")
    assert err.value.field == "study.map_colours"
    assert str(err.value).startswith("s.toml: study.map_colours:") and words in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("colours", ["inferno", None])
def test_the_scheme_drawn_is_recorded_with_every_map_shown_and_exported(colours, tmp_path, checkpoint_dir,
                                                                        stimuli_dir, make_engine_for, sqlite_repo):
    study = load_study(_study_file(tmp_path, checkpoint_dir, stimuli_dir, colours))
    maps = make_map_service(tmp_path / "cache", study.map_colours)  # as the app opens it (ui.resources)
    engine = make_engine_for(study, sqlite_repo, maps=maps)
    run_participant(engine, random.Random(3))
    expected = colours or "gnbu"
    recorded = [m for record in sqlite_repo.shown_trials(engine.record.id) for m in record.maps]
    assert recorded and {m.colours for m in recorded} == {expected}
    with_maps = [row for row in response_rows(sqlite_repo, engine.record) if row["png_sha256"]]
    assert with_maps and all(row["map_colours"] == expected for row in with_maps)
    # The recorded PNG is the one drawn in that scheme, and the other scheme draws other bytes.
    record = next(r for r in sqlite_repo.shown_trials(engine.record.id) if r.maps)
    shown = record.maps[0]
    plan = Plan.from_json(json.loads(sqlite_repo.plan_json(record.participant_id)))
    (step,) = [s for s in plan.trial_steps if (s.trial, s.phase) == (record.trial_index, record.phase)]
    (planned,) = [m for m in step.maps if m.column == shown.column]
    request = MapRequest.on_trial(step.checkpoint, step.image_path, planned.shown())
    assert maps.cached(request).png_sha256 == shown.png_sha256
    redrawn = make_map_service(tmp_path / "cache", "gnbu" if colours else "inferno").cached(request)
    assert redrawn.colours != expected and hashlib.sha256(redrawn.png).hexdigest() != shown.png_sha256


def test_check_warns_when_participants_saw_another_scheme_than_the_file_now_draws(tmp_path, checkpoint_dir,
                                                                                  stimuli_dir, make_engine_for):
    url = f"sqlite:///{tmp_path / 'responses.sqlite'}"
    repo = Repository(make_engine(url), create_tables=True)
    path = _study_file(tmp_path, checkpoint_dir, stimuli_dir, "inferno")  # a study that started in the old colours
    study = load_study(path)
    engine = make_engine_for(study, repo, maps=make_map_service(tmp_path / "cache", study.map_colours))
    run_participant(engine, random.Random(3))
    repo.dispose()
    assert check_map_colours(study, url).ok  # the same scheme: nothing to say
    path.write_text(path.read_text().replace('map_colours = "inferno"\n', ""))  # ... then the default changed
    check = check_map_colours(load_study(path), url)
    assert not check.ok and not check.blocking
    assert "saw maps in inferno" in check.detail and 'set map_colours = "inferno"' in check.detail
