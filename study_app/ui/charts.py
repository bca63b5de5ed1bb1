"""A matplotlib figure on a page as a picture with an alt text (``st.pyplot`` draws an ``<img>`` without one,
which screen readers announce as an unnamed image: axe's "image-alt", critical)."""

from __future__ import annotations

import io

import matplotlib.pyplot as plt
import streamlit as st
from matplotlib.figure import Figure


def describe_figure(fig: Figure) -> str:
    """What the figure shows, from its own titles and axis labels: "Chart: Accuracy by method (x: method,
    y: accuracy)". The numbers themselves are in the table the page shows beside each chart."""
    parts = [fig._suptitle.get_text()] if fig._suptitle is not None else []  # noqa: SLF001 - no public getter
    for ax in fig.axes:
        axes = ", ".join(f"{name}: {label}" for name, label in (("x", ax.get_xlabel()), ("y", ax.get_ylabel()))
                         if label)
        title = ax.get_title()
        if title or axes:
            parts.append(f"{title} ({axes})" if title and axes else title or axes)
    return "Chart: " + ("; ".join(p for p in parts if p) or "no title")


def chart(fig: Figure, alt: str | None = None) -> None:
    """Draw ``fig`` as a PNG with ``alt`` (default: :func:`describe_figure`), then free it."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=150, bbox_inches="tight")
    text = alt or describe_figure(fig)
    plt.close(fig)
    st.image(buffer.getvalue(), alt=text, width="stretch")
