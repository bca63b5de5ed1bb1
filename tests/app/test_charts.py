"""A chart's alt text says what it shows, from the figure's own titles and labels (st.pyplot gives none)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from study_app.ui.charts import describe_figure  # noqa: E402


def test_alt_text_names_title_and_axes_of_every_panel():
    fig, (left, right) = plt.subplots(1, 2)
    fig.suptitle("Accuracy by method")
    left.set_title("model right")
    left.set_xlabel("method")
    left.set_ylabel("accuracy")
    right.set_ylabel("seconds")
    assert describe_figure(fig) == "Chart: Accuracy by method; model right (x: method, y: accuracy); y: seconds"
    plt.close(fig)


def test_a_figure_without_any_text_still_gets_an_alt_text():
    fig, _ = plt.subplots()
    assert describe_figure(fig) == "Chart: no title"
    plt.close(fig)
