"""Draw what a trial shows: the picture as the model saw it, the prediction, the explanation maps.

Every image carries alt text. The picture is cropped exactly like the model input
(:func:`trainers.predict.display_image`) so the map lines up with it; the crop is cached per image and
size, so a warm trial page reads nothing but small PNGs.
"""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

PICTURE_WIDTH = 360  # px; shrinks to the screen on phones
CLINICAL_NOTICE = "Research only — not for clinical use. These images and predictions must not inform any diagnosis."
_MEDICAL_WORDS = re.compile(r"mri|brain|tumou?r|glioma|meningioma|pituitary|x-?ray|\bct\b|clinical|medical",
                            re.IGNORECASE)


def is_medical_trial(trial) -> bool:
    """The task's ``clinical_notice`` setting where the study file gives one; else MRI and other medical
    tasks get the notice, judged from task, checkpoint and class names."""
    if getattr(trial, "clinical_notice", None) is not None:
        return bool(trial.clinical_notice)
    text = " ".join([trial.task, Path(trial.checkpoint).name, *trial.options, trial.true_label or ""])
    if trial.prediction is not None:
        text += " " + " ".join(label for label, _ in trial.prediction.topk)
    return bool(_MEDICAL_WORDS.search(text))


def show_clinical_notice(trial) -> None:
    if is_medical_trial(trial):
        st.warning(CLINICAL_NOTICE, icon=":material/medical_information:")


@st.cache_data(max_entries=1024, show_spinner=False)
def display_png(image_path: str, input_size: int, mtime_ns: int) -> bytes:
    """PNG of the model's view of the image; ``mtime_ns`` makes an edited file a new cache entry."""
    from trainers.images import open_rgb  # noqa: PLC0415 - torch-free but heavy; keep page import light
    from trainers.predict import display_image  # noqa: PLC0415

    buffer = io.BytesIO()
    display_image(open_rgb(image_path), input_size).save(buffer, format="PNG")
    return buffer.getvalue()


def stimulus_png(image_path: str, input_size: int) -> bytes:
    return display_png(image_path, int(input_size), Path(image_path).stat().st_mtime_ns)


def show_picture(png: bytes, alt: str, caption: str | None = None, width: int | str = "stretch") -> None:
    """Serve the PNG as it is. Streamlit's default (``output_format="auto"``) decodes every picture without
    transparency and re-encodes it as JPEG on every script run, the largest image cost of a click."""
    st.image(png, caption=caption, alt=alt, width=width, output_format="PNG")


def prediction_text(prediction, top: int = 3) -> str:
    lines = [f"{i + 1}. **{label}** — {prob:.0%}" for i, (label, prob) in enumerate(prediction.topk[:top])]
    return "The model's top predictions:\n\n" + "\n".join(lines)


def show_prediction(prediction, top: int = 3) -> None:
    st.markdown(prediction_text(prediction, top))


def show_maps(maps: Sequence[tuple[str, bytes, str]], columns: int = 3) -> None:
    """``maps`` are ``(label, png, alt)``; side by side on wide screens, stacked on phones (Streamlit
    columns wrap below about 640 px)."""
    if not maps:
        return
    per_row = max(1, min(columns, len(maps)))
    for start in range(0, len(maps), per_row):
        cols = st.columns(per_row)
        for col, (label, png, alt) in zip(cols, maps[start : start + per_row], strict=False):
            with col:
                st.markdown(f"**{label}**")
                show_picture(png, alt=f"{label}: {alt}")


def map_legend() -> None:
    st.caption("Bright yellow marks the regions the explanation says counted most for the prediction; "
               "where the photo shows through unchanged, the explanation found no evidence.")
