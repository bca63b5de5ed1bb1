"""The model's answer on every stimulus, computed once when the engine starts.

Item selection needs it (forward simulation and verification balance items by whether the model was right;
distinction offers the model's top-k classes), and each participant's plan stores the prediction it showed,
so the export reports what the participant actually saw even if the checkpoint is later retrained.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from study_app.study.plan import ModelOutput
from study_app.study.schema import Study, TaskConfig
from trainers.checkpoint import load_checkpoint
from trainers.images import open_rgb
from trainers.predict import predict_topk


@dataclass(frozen=True)
class TaskPredictions:
    """Predictions of one task's checkpoint on its stimuli, keyed by image id."""

    checkpoint_sha256: str
    by_image: dict[str, ModelOutput]
    card: dict = field(default_factory=dict)  # the checkpoint's card: class names, input geometry (cache keys)

    @property
    def class_names(self) -> tuple[str, ...]:
        return tuple(self.card.get("class_names", ()))


def model_class_names(task: TaskConfig, predictions: TaskPredictions | None) -> tuple[str, ...]:
    """The model's classes in index order: from its card (``predictions``), else those the loader read into the
    task from the same card (predictions made without a card, as the power simulation's and tests' are)."""
    return (predictions.class_names if predictions is not None else ()) or tuple(task.class_names)


def predict_task(task: TaskConfig, *, batch_size: int = 32) -> TaskPredictions:
    """Load ``task``'s checkpoint and predict every stimulus (top-k over all classes, best first)."""
    checkpoint = load_checkpoint(task.checkpoint)
    k = len(checkpoint.class_names)
    by_image: dict[str, ModelOutput] = {}
    stimuli = list(task.stimuli)
    for start in range(0, len(stimuli), batch_size):
        chunk = stimuli[start : start + batch_size]
        preds = predict_topk(checkpoint, [open_rgb(s.path) for s in chunk], k=k)
        for stim, pred in zip(chunk, preds, strict=True):
            by_image[stim.image_id] = ModelOutput(
                label=pred.label,
                prob=float(pred.prob),
                topk=tuple(zip(pred.labels, (float(p) for p in pred.probs), strict=True)),
                correct=pred.label == stim.label,
            )
    return TaskPredictions(checkpoint_sha256=checkpoint.sha256, by_image=by_image, card=dict(checkpoint.card))


def predict_study(study: Study) -> dict[str, TaskPredictions]:
    """Predictions for every task, keyed by task name. Tasks sharing a checkpoint still load it once each;
    studies have few tasks, and this runs once per server start."""
    return {task.name: predict_task(task) for task in study.tasks}
