"""Model builders: torchvision ResNets, the ImageNet zero-shot fold, and the CIFAR-10 ablation blocks.

Everything that builds a network goes through :func:`build_model` so that a checkpoint's card is
enough to rebuild the exact architecture (``arch`` + ``head`` + ``num_classes``).
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from torchvision import models as tvm

ARCHS = ("resnet18", "resnet34", "resnet50")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

# ImageNet-1k index ranges used by the seed study's zero-shot cat/dog model (inclusive).
CAT_IMAGENET_CLASSES = tuple(range(281, 286))  # tabby .. Egyptian cat
DOG_IMAGENET_CLASSES = tuple(range(151, 269))  # Chihuahua .. Mexican hairless


class PretrainedWeightsUnavailable(RuntimeError):
    """ImageNet weights were asked for but cannot be downloaded or found."""


def _imagenet_weights_enum(arch: str):
    return tvm.get_model_weights(arch).IMAGENET1K_V1


def imagenet_weights_file(arch: str) -> Path:
    """Where torchvision looks for ``arch``'s IMAGENET1K_V1 file before downloading it."""
    url = _imagenet_weights_enum(arch).url
    return Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]


def imagenet_class_names() -> list[str]:
    """The 1000 ImageNet-1k class names shipped in torchvision's weights metadata (no download)."""
    return list(_imagenet_weights_enum("resnet18").meta["categories"])


def _load_imagenet_state(arch: str, weights_path: str | Path | None) -> dict:
    if weights_path is not None:
        path = Path(weights_path)
        if not path.is_file():
            raise PretrainedWeightsUnavailable(f"--weights {path}: no such file")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # noqa: BLE001 - any failure means the file is unusable
            raise PretrainedWeightsUnavailable(f"--weights {path}: not a loadable state dict ({exc})") from exc
        if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
            state = state["model"]
        return state
    weights = _imagenet_weights_enum(arch)
    try:
        return weights.get_state_dict(progress=False, check_hash=True)
    except Exception as exc:  # noqa: BLE001 - URLError, socket errors, hash mismatch...
        target = imagenet_weights_file(arch)
        raise PretrainedWeightsUnavailable(
            f"Could not get ImageNet weights for {arch} ({type(exc).__name__}: {exc}).\n"
            f"Offline? Download {weights.url}\n"
            f"and place it at {target}\n"
            f"(the torch hub cache; set TORCH_HOME to move it), or pass --weights PATH to a local file."
        ) from exc


def build_resnet(
    arch: str,
    num_classes: int,
    pretrained: str = "none",
    weights_path: str | Path | None = None,
) -> nn.Module:
    """A torchvision ResNet with a fresh ``num_classes`` head.

    ``pretrained='imagenet'`` loads IMAGENET1K_V1 through torchvision's weights API (or ``weights_path``)
    into the backbone; the final layer is replaced by a fresh one unless ImageNet weights were loaded and
    ``num_classes`` is 1000 (then ImageNet's own classifier is kept, as the zero-shot model needs).
    """
    if arch not in ARCHS:
        raise ValueError(f"unknown arch {arch!r}; choose one of {', '.join(ARCHS)}")
    if pretrained not in ("none", "imagenet"):
        raise ValueError(f"pretrained must be 'none' or 'imagenet', not {pretrained!r}")
    model = tvm.get_model(arch, weights=None)
    loaded = pretrained == "imagenet" or weights_path is not None
    if loaded:
        model.load_state_dict(_load_imagenet_state(arch, weights_path))
    if not (loaded and num_classes == 1000):
        model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model


class ImageNetFold(nn.Module):
    """Zero-shot classifier: an ImageNet ResNet whose 1000-way softmax is summed into groups.

    ``forward`` returns log-probabilities of the groups, renormalised over the grouped classes, so that
    ``softmax(forward(x))`` equals the folded probabilities and attribution methods can target a group
    exactly as they would a logit. ``imagenet_logits`` gives the raw 1000-way scores (for top-k labels).
    """

    def __init__(self, backbone: nn.Module, groups: list[list[int]]):
        super().__init__()
        self.backbone = backbone
        index = torch.full((1000,), -1, dtype=torch.long)
        for g, members in enumerate(groups):
            for m in members:
                index[m] = g
        self.register_buffer("group_index", index, persistent=False)
        self.num_groups = len(groups)

    def imagenet_logits(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        probs = F.softmax(self.backbone(x), dim=1)
        folded = fold_probabilities(probs, self.group_index, self.num_groups)
        folded = folded / folded.sum(dim=1, keepdim=True).clamp_min(1e-12)
        return torch.log(folded.clamp_min(1e-12))


def fold_probabilities(probs: torch.Tensor, group_index: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Sum ``probs[:, i]`` into ``out[:, group_index[i]]``; classes with index -1 are dropped."""
    keep = group_index >= 0
    out = probs.new_zeros(probs.shape[0], num_groups)
    return out.index_add(1, group_index[keep], probs[:, keep])


def fold_imagenet_to_cat_dog(backbone: nn.Module) -> ImageNetFold:
    """The seed study's zero-shot model: cat = ImageNet 281-285, dog = 151-268."""
    return ImageNetFold(backbone, [list(CAT_IMAGENET_CLASSES), list(DOG_IMAGENET_CLASSES)])


# --- CIFAR-10 ablation: plain vs residual vs concatenating skip ------------------------------


class ConvBlock(nn.Module):
    """Two 3x3 conv-BN-ReLU layers, no shortcut (the seed's plain block)."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(cin, cout, 3, stride, 1, bias=False),
            nn.BatchNorm2d(cout),
            nn.ReLU(inplace=False),
            nn.Conv2d(cout, cout, 3, 1, 1, bias=False),
            nn.BatchNorm2d(cout),
        )
        self.out_channels = cout

    def forward(self, x):
        return F.relu(self.body(x))


class ResBlock(ConvBlock):
    """ConvBlock plus an identity (or 1x1 projection) shortcut added before the last ReLU."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__(cin, cout, stride)
        self.shortcut = (
            nn.Identity()
            if cin == cout and stride == 1
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )

    def forward(self, x):
        return F.relu(self.body(x) + self.shortcut(x))


class SkipBlock(nn.Module):
    """DenseNet-style: the block's output is concatenated with its (resampled) input."""

    def __init__(self, cin: int, cout: int, stride: int = 1):
        super().__init__()
        grow = cout - cin if cout > cin else cout // 2
        self.body = ConvBlock(cin, grow, stride)
        self.pool = nn.AvgPool2d(stride) if stride > 1 else nn.Identity()
        self.out_channels = cin + grow

    def forward(self, x):
        return torch.cat([self.pool(x), self.body(x)], dim=1)


BLOCKS = {"plain": ConvBlock, "residual": ResBlock, "skip": SkipBlock}


class SmallNet(nn.Module):
    """The same small CIFAR network for every block type: stem, 3 stages, global pool, linear."""

    def __init__(self, block: str, num_classes: int = 10, widths=(32, 64, 128)):
        super().__init__()
        block_cls = BLOCKS[block]
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, 1, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU())
        layers, cin = [], widths[0]
        for i, w in enumerate(widths):
            for j in range(2):
                b = block_cls(cin, w, stride=2 if (i > 0 and j == 0) else 1)
                layers.append(b)
                cin = b.out_channels
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        x = self.features(self.stem(x))
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
