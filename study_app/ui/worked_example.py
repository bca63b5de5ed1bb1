"""The instructions' worked example, chosen by :func:`study_app.study.display_rules.choose_worked_example`
once per study version and process, with its picture."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from study_app.study.display_rules import WorkedExample, choose_worked_example
from study_app.ui import stimulus_view
from study_app.ui.resources import checkpoint_input_size


@dataclass(frozen=True)
class PictureExample:
    example: WorkedExample
    image_png: bytes


@st.cache_resource(show_spinner=False, max_entries=4)
def _choose(_engine, study_sha256: str) -> PictureExample | None:
    example = choose_worked_example(_engine.study, _engine.items, _engine.predictions)
    if example is None:
        return None
    trial = example.trial
    png = stimulus_view.stimulus_png(trial.image_path, checkpoint_input_size(trial.checkpoint))
    return PictureExample(example=example, image_png=png)


def pick_worked_example(engine) -> PictureExample | None:
    return _choose(engine, engine.study.sha256)
