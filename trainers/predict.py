"""Inference helpers shared by evaluation, the explanation engine and the study engine.

The geometry is fixed in one place: resize the shorter side to ``input_size`` and centre-crop a square.
:func:`display_image` applies exactly that geometry without normalising, so an explanation map computed on
the model input lines up pixel for pixel with the picture a participant sees.
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


def display_image(image: Image.Image, input_size: int) -> Image.Image:
    """The RGB picture the model sees (same resize and crop as :func:`eval_transform`, no normalisation)."""
    crop = T.Compose([T.Resize(input_size, antialias=True), T.CenterCrop(input_size)])
    return crop(image.convert("RGB"))


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
