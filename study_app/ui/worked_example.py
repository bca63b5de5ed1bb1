"""Choose the instructions' worked example: an unused stimulus, preferably one the model gets wrong."""

from __future__ import annotations

from dataclasses import dataclass

import streamlit as st

from study_app.study.steps import PHASE_MAIN, PredictionView, ShownMethod, TrialSpec
from study_app.ui import stimulus_view
from study_app.ui.resources import checkpoint_input_size


@dataclass(frozen=True)
class WorkedExample:
    trial: TrialSpec
    method: ShownMethod
    image_png: bytes
    true_label: str
    model_wrong: bool


def _used_image_ids(items) -> set[str]:
    used: set[str] = set()
    for groups in (items or {}).values():
        for ids in (groups.values() if isinstance(groups, dict) else [groups]):
            used.update(ids)
    return used


@st.cache_resource(show_spinner=False, max_entries=4)
def _choose(_engine, study_sha256: str) -> WorkedExample | None:
    study = _engine.study
    if not study.methods:
        return None
    task = study.tasks[0]
    used = _used_image_ids({task.name: _engine.items.get(task.name, {})})
    preds = _engine.predictions[task.name].by_image
    unused = [s for s in task.stimuli if s.image_id not in used and s.image_id in preds]
    if not unused:
        return None
    wrong = [s for s in unused if preds[s.image_id].label != s.label]
    stim = (wrong or unused)[0]
    output = preds[stim.image_id]
    pred = PredictionView(label=output.label, prob=output.prob, topk=tuple(output.topk))
    m = study.methods[0]
    method = ShownMethod(key=m.key, name=m.name, label=m.label, params=dict(m.params))
    trial = TrialSpec(index=0, total=0, phase=PHASE_MAIN, task=task.name, protocol=task.protocol,
                      image_id=stim.image_id, image_path=stim.path, checkpoint=task.checkpoint,
                      true_label=stim.label, prediction=pred, methods=(method,), options=task.class_names,
                      prompt="", clinical_notice=task.clinical_notice)
    png = stimulus_view.stimulus_png(stim.path, checkpoint_input_size(task.checkpoint))
    return WorkedExample(trial=trial, method=method, image_png=png, true_label=stim.label,
                         model_wrong=pred.label != stim.label)


def pick_worked_example(engine) -> WorkedExample | None:
    return _choose(engine, engine.study.sha256)
