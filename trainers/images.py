"""Open any image file as 8-bit RGB, or fail with an error that names the file.

Used by the trainers and, through them, by the explanation engine and the study's stimulus check, so
that a picture looks the same to the model in training, in explanation and in the participant's browser.
"""

from __future__ import annotations

import hashlib
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff", ".webp")


class ImageLoadError(ValueError):
    """An image file cannot be used; the message names the file and the reason."""


def is_image_name(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS and not Path(path).name.startswith(".")


def class_folders(root: Path) -> list[Path]:
    """The class folders of an image folder (one per class, by name; hidden ones skipped)."""
    return sorted(p for p in Path(root).iterdir() if p.is_dir() and not p.name.startswith("."))


def image_files(folder: Path) -> list[Path]:
    """The image files directly in ``folder``, by name."""
    return sorted(f for f in Path(folder).iterdir() if f.is_file() and is_image_name(f))


def usable_image(file: Path, decode: bool = True) -> tuple[str | None, str | None]:
    """``(content SHA-256, None)`` for an image file that can be used, else ``(None, why not)``; ``decode``: also
    decode it (a file that reads but does not decode is unusable)."""
    if decode:
        try:
            open_rgb(file)
        except ImageLoadError as exc:
            return None, str(exc).removeprefix(f"{file}: ")
    try:
        return hashlib.sha256(Path(file).read_bytes()).hexdigest(), None
    except OSError as exc:
        return None, f"cannot read ({exc.strerror or exc})"


def _to_rgb(img: Image.Image) -> Image.Image:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        # 16-bit / 32-bit grayscale: stretch the actual range into 8 bits instead of clipping at 255.
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = np.zeros_like(arr) if hi <= lo else (arr - lo) / (hi - lo) * 255.0
        img = Image.fromarray(arr.round().astype(np.uint8), mode="L")
    elif mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        # Composite on white so transparent areas do not become arbitrary colours.
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return img.convert("RGB")


def open_rgb(path: str | Path) -> Image.Image:
    """Decode ``path`` fully into an RGB image: EXIF orientation applied; CMYK, palette, RGBA, grayscale and
    16-bit handled. Raises :class:`ImageLoadError` for empty, corrupt, non-image or decompression-bomb files.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageLoadError(f"{path}: empty file")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except ImageLoadError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageLoadError(f"{path}: image too large (decompression-bomb limit): {exc}") from exc
    except UnidentifiedImageError as exc:
        raise ImageLoadError(f"{path}: not an image file Pillow can read") from exc
    except FileNotFoundError as exc:
        raise ImageLoadError(f"{path}: file not found") from exc
    except (OSError, SyntaxError, ValueError) as exc:
        raise ImageLoadError(f"{path}: corrupt or truncated image ({exc})") from exc
