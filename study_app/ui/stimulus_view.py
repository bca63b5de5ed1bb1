"""Draw what a trial shows: the region of the picture the model saw, the prediction, the explanation maps.

Every image carries alt text. The picture is the region the model saw, cut from the original at display
resolution (:func:`trainers.predict.display_image`: sharp, never upscaled beyond the original), and every map
is rendered onto that same picture, so they line up; the crop is cached per image and size, so a warm trial
page reads nothing but small PNGs.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import streamlit as st

from study_app.study.display_rules import CLINICAL_NOTICE, shows_clinical_notice
from study_app.ui.language import _, current
from trainers.images import open_rgb
from trainers.predict import DISPLAY_PX, display_image

PICTURE_WIDTH = DISPLAY_PX  # px, the pictures' own width at most; shrinks to the screen on phones


def show_clinical_notice(trial) -> None:
    if shows_clinical_notice(trial):
        st.warning(_(CLINICAL_NOTICE), icon=":material/medical_information:")


@st.cache_data(max_entries=1024, show_spinner=False)
def display_png(image_path: str, input_size: int, mtime_ns: int, display_px: int = DISPLAY_PX) -> bytes:
    """PNG of the region the model sees, at display resolution; ``mtime_ns`` makes an edited file a new
    cache entry."""
    buffer = io.BytesIO()
    display_image(open_rgb(image_path), input_size, display_px).save(buffer, format="PNG")
    return buffer.getvalue()


def stimulus_png(image_path: str, input_size: int) -> bytes:
    """The picture a trial, the worked example and the gallery show; the maps are rendered onto the same."""
    return display_png(image_path, int(input_size), Path(image_path).stat().st_mtime_ns)


def show_picture(png: bytes, alt: str, caption: str | None = None, width: int | str = "stretch") -> None:
    """Serve the PNG as it is. Streamlit's default (``output_format="auto"``) decodes every picture without
    transparency and re-encodes it as JPEG on every script run, the largest image cost of a click."""
    st.image(png, caption=caption, alt=alt, width=width, output_format="PNG")


def prediction_text(prediction, top: int = 3, class_label=str) -> str:
    """The model's top classes, each as the participant reads it (``class_label``: class name -> shown text)."""
    percent = current().percent
    lines = [f"{i + 1}. **{class_label(label)}** — {percent(prob)}"
             for i, (label, prob) in enumerate(prediction.topk[:top])]
    return _("The model's top predictions:") + "\n\n" + "\n".join(lines)


def show_prediction(prediction, top: int = 3, class_label=str) -> None:
    st.markdown(prediction_text(prediction, top, class_label))


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

