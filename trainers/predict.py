"""Inference helpers shared by evaluation, the explanation engine and the study engine.

The geometry is fixed in one place: resize the shorter side to ``input_size`` and centre-crop a square.
:func:`model_crop_box` is that square's region in the original image; :func:`display_image` cuts the same
region from the original at display resolution (never upscaled beyond the original, never smaller than the
model input), so an explanation map computed on the model input, resampled onto it, lines up with the
picture a participant sees and the picture stays sharp.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from PIL import Image
from torchvision.transforms import v2 as T

from trainers.checkpoint import LoadedCheckpoint


def eval_transform(input_size: int, mean, std) -> T.Compose:
    return T.Compose(
        [
            T.ToImage(),
            T.Resize(input_size, antialias=True),
            T.CenterCrop(input_size),
            T.ToDtype(torch.float32, scale=True),
            T.Normalize(mean=list(mean), std=list(std)),
        ]
    )


DISPLAY_PX = 360  # side of the shown picture at most: the width the participant pages show it at


def model_crop_box(size: tuple[int, int], input_size: int) -> tuple[float, float, float, float]:
    """The region ``(left, top, right, bottom)`` of an image of ``size`` (width, height), in its own pixel
    coordinates, that :func:`eval_transform` turns into the model input: torchvision's ``Resize`` (shorter side
    to ``input_size``, longer side truncated to an integer) then ``CenterCrop`` (offset rounded), mapped back
    through the resize. Not quite square when the truncation stretches the longer side, as it does for the model.
    """
    width, height = size
    if width <= height:
        new_w, new_h = input_size, int(input_size * height / width)
    else:
        new_w, new_h = int(input_size * width / height), input_size
    left, top = int(round((new_w - input_size) / 2.0)), int(round((new_h - input_size) / 2.0))
    sx, sy = width / new_w, height / new_h
    return (left * sx, top * sy, (left + input_size) * sx, (top + input_size) * sy)


def display_side(size: tuple[int, int], input_size: int, display_px: int = DISPLAY_PX) -> int:
    """Side of the shown square: ``display_px``, less where the original's shorter side is smaller (no
    upscaling), but never less than the model input."""
    return max(int(input_size), min(int(display_px), min(size)))


def display_image(image: Image.Image, input_size: int, display_px: int = DISPLAY_PX) -> Image.Image:
    """The RGB picture a participant sees: the region the model sees (:func:`model_crop_box`), taken from the
    original at :func:`display_side` pixels square. Resized down to ``input_size`` it is the model input
    (before normalisation); a map at the input's size, resampled onto it, lines up with it."""
    rgb = image.convert("RGB")
    side = display_side(rgb.size, input_size, display_px)
    return rgb.resize((side, side), Image.Resampling.LANCZOS, box=model_crop_box(rgb.size, input_size))


def preprocess(checkpoint: LoadedCheckpoint, images: list[Image.Image]) -> torch.Tensor:
    """A normalised NCHW float32 batch for ``checkpoint``'s model."""
    tf = eval_transform(checkpoint.input_size, checkpoint.mean, checkpoint.std)
    return torch.stack([tf(img.convert("RGB")) for img in images])


@dataclass(frozen=True)
class Prediction:
    """Top-k of one image: labels and probabilities, best first; ``imagenet_topk`` for zero-shot models."""

    labels: tuple[str, ...]
    probs: tuple[float, ...]
    indices: tuple[int, ...]
    imagenet_topk: tuple[tuple[str, float], ...] = ()

    @property
    def label(self) -> str:
        return self.labels[0]

    @property
    def prob(self) -> float:
        return self.probs[0]

    @property
    def index(self) -> int:
        return self.indices[0]


@torch.inference_mode()
def predict_topk(checkpoint: LoadedCheckpoint, images: list[Image.Image], k: int = 3) -> list[Prediction]:
    model = checkpoint.model
    device = next(model.parameters()).device
    x = preprocess(checkpoint, images).to(device)
    probs = torch.softmax(model(x).float(), dim=1).cpu()
    k = min(k, probs.shape[1])
    top_p, top_i = probs.topk(k, dim=1)
    names = checkpoint.class_names
    imagenet = checkpoint.imagenet_class_names
    extra: list[tuple] = [()] * len(images)
    if imagenet is not None and hasattr(model, "imagenet_logits"):
        ip = torch.softmax(model.imagenet_logits(x).float(), dim=1).cpu()
        ipp, ipi = ip.topk(3, dim=1)
        extra = [tuple((imagenet[j], float(p)) for p, j in zip(ipp[r], ipi[r])) for r in range(len(images))]
    return [
        Prediction(
            labels=tuple(names[j] for j in top_i[r].tolist()),
            probs=tuple(float(p) for p in top_p[r]),
            indices=tuple(int(j) for j in top_i[r]),
            imagenet_topk=extra[r],
        )
        for r in range(len(images))
    ]
