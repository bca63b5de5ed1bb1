"""The seed study's zero-shot cats-vs-dogs model: an ImageNet ResNet with its 1000-way softmax folded.

    xai-study zeroshot --out checkpoints/catdog_zeroshot_resnet18 --arch resnet18 [--weights resnet18-f37072fd.pth]

cat = sum of the probabilities of ImageNet classes 281-285, dog = 151-268 (the rest is dropped and the two
sums renormalised). The checkpoint keeps ImageNet's 1000 class names, so a study can show the top-3
ImageNet labels too (the seed study showed a dog predicted as a "polar bear"). Needs ImageNet weights:
downloaded through torchvision's weights API, or a local file via ``--weights``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from trainers.checkpoint import CardBuilder, save_checkpoint
from trainers.models import (
    ARCHS,
    CAT_IMAGENET_CLASSES,
    DOG_IMAGENET_CLASSES,
    PretrainedWeightsUnavailable,
    build_resnet,
    fold_imagenet_to_cat_dog,
    imagenet_class_names,
)


def add_arguments(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--arch", default="resnet18", choices=ARCHS)
    p.add_argument("--weights", type=Path, default=None, help="local ImageNet state dict (else download IMAGENET1K_V1)")
    p.add_argument("--input-size", type=int, default=224)
    p.add_argument("--half", action="store_true")
    return p


def build_zero_shot_checkpoint(out: Path, arch: str = "resnet18", weights: Path | None = None,
                               input_size: int = 224, half: bool = False) -> Path:
    backbone = build_resnet(arch, 1000, pretrained="imagenet", weights_path=weights)
    model = fold_imagenet_to_cat_dog(backbone).eval()
    card = CardBuilder(
        arch=arch, class_names=["cat", "dog"], input_size=input_size, head="imagenet_fold",
        train_args={"source": str(weights) if weights else f"torchvision {arch} IMAGENET1K_V1"},
        notes=("Zero-shot: no training. ImageNet-1k softmax summed into cat (classes 281-285) and dog "
               "(151-268), renormalised over those 123 classes."),
        extra={"imagenet_class_names": imagenet_class_names(),
               "fold_groups": {"cat": list(CAT_IMAGENET_CLASSES), "dog": list(DOG_IMAGENET_CLASSES)}},
    )
    return save_checkpoint(out, model, card, half=half)


def run(args) -> int:
    try:
        path = build_zero_shot_checkpoint(args.out, args.arch, args.weights, args.input_size, args.half)
    except PretrainedWeightsUnavailable as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(run(add_arguments(argparse.ArgumentParser(description=__doc__)).parse_args()))
