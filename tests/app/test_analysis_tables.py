"""The researcher's numbers: analysis tables from export rows, and the live progress table."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from study.test_decision import decision_extra

from app.drive import new_app, run_to_end
from study_app.analysis import tables as analysis
from study_app.analysis.progress import free_text_items, progress_table, recent_texts, split_pilots
from study_app.analysis.reliance_arms import measure_definitions
from study_app.ui import state_keys


def row(participant, methods, correct, *, check=False, model_correct=True, **extra):
    return {"participant": participant, "methods": methods, "correct": correct, "is_attention_check": check,
            "model_correct": model_correct, "response_time_ms": 1500, **extra}


def test_attention_checks_are_left_out_and_control_comes_first():
    rows = [row("a", "gradcam", True), row("a", "none", False), row("b", "gradcam", False),
            row("b", "none", True), row("a", "gradcam", False, check=True)]
    table = analysis.accuracy_by_method(analysis.trial_frame(rows))
    assert list(table["method"]) == ["none", "gradcam"]
    assert list(table["trials"]) == [2, 2]
    assert list(table["accuracy"]) == [0.5, 0.5]


def test_bootstrap_resamples_participants_and_is_stable():
    values = pd.Series([1, 1, 1, 1, 0, 0])
    clusters = pd.Series(["a", "a", "a", "b", "b", "b"])
    mean, lo, hi = analysis.bootstrap_mean_ci(values, clusters)
    assert mean == pytest.approx(4 / 6)
    # only two participants: every resample is a, b, or both, so the interval spans their accuracies
    assert lo == pytest.approx(1 / 3) and hi == pytest.approx(1.0)
    assert analysis.bootstrap_mean_ci(values, clusters) == (mean, lo, hi)
    same = analysis.bootstrap_mean_ci(pd.Series([1, 1]), pd.Series(["a", "b"]))
    assert same == (1.0, 1.0, 1.0)


def test_split_by_model_correctness():
    rows = [row("a", "lime", True, model_correct=True), row("a", "lime", False, model_correct=False),
            row("b", "lime", True, model_correct=False)]
    table = analysis.accuracy_by_method(analysis.trial_frame(rows), by="model_correct")
    got = {bool(r.model_correct): r.accuracy for r in table.itertuples()}
    assert got == {False: 0.5, True: 1.0}


def test_effect_counts_and_ranking():
    rows = [row("a", "gradcam;lime", None, answer_effect_gradcam="helped", answer_effect_lime="hurt"),
            row("b", "gradcam;lime", None, answer_effect_gradcam="helped", answer_effect_lime="no_effect")]
    counts = analysis.effect_counts(analysis.trial_frame(rows)).set_index("method")
    assert counts.loc["gradcam"].to_dict() == {"helped": 2, "no_effect": 0, "hurt": 0}
    assert counts.loc["lime"].to_dict() == {"helped": 0, "no_effect": 1, "hurt": 1}
    people = [{"post_method_rank": ["LIME", "Grad-CAM"]}, {"post_method_rank": ["LIME", "Grad-CAM"]},
              {"post_method_rank": ["Grad-CAM", "LIME"]}]
    ranking = analysis.ranking_summary(people)
    assert list(ranking["method"]) == ["LIME", "Grad-CAM"]
    assert list(ranking["first_place"]) == [2, 1]


def test_figures_draw_with_and_without_data():
    empty = analysis.accuracy_figure(analysis.accuracy_by_method(analysis.trial_frame([])))
    assert empty.axes
    full = analysis.accuracy_figure(analysis.accuracy_by_method(analysis.trial_frame(
        [row("a", "none", True), row("b", "gradcam", False)])))
    assert full.axes[0].get_title().startswith("Participant accuracy")


def test_progress_table_counts_each_state():
    now = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
    since = now - dt.timedelta(minutes=30)

    def p(condition, status, minutes_ago):
        return SimpleNamespace(condition=condition, status=status, last_seen_at=now - dt.timedelta(minutes=minutes_ago))

    people = [p(0, "completed", 90), p(0, "active", 5), p(1, "active", 45), p(1, "active", 1),
              p(1, "screened_out", 2)]
    table = progress_table(people, ["latin-0", "latin-1"], since).set_index("condition")
    assert table.loc["latin-0"].to_dict() == {"started": 2, "completed": 1, "screened out": 0, "in progress": 1,
                                              "abandoned": 0}
    assert table.loc["latin-1"].to_dict() == {"started": 3, "completed": 0, "screened out": 1, "in progress": 1,
                                              "abandoned": 1}
    assert table.loc["all", "started"] == 5


def test_pilot_runs_are_counted_apart():
    people = [SimpleNamespace(pilot=False, id=1), SimpleNamespace(pilot=True, id=2), SimpleNamespace(pilot=False, id=3)]
    study, pilots = split_pilots(people)
    assert [p.id for p in study] == [1, 3] and [p.id for p in pilots] == [2]


def test_recent_texts_keeps_text_verbatim_newest_first():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    responses = [SimpleNamespace(answer={"comment": "<b>old</b>"}, answered_at=t0, participant_id=1, trial_index=0,
                                 phase="main"),
                 SimpleNamespace(answer={"comment": "new"}, answered_at=t0 + dt.timedelta(seconds=5),
                                 participant_id=1, trial_index=1, phase="main")]
    texts = recent_texts(responses, [], {1: "abc"}, frozenset())
    assert list(texts["text"]) == ["new", "<b>old</b>"]


def test_recent_texts_lists_written_answers_only_never_chosen_options():
    """A choice answer ("18-24", "None") is not free text, although it is a string that is not a number."""
    study = SimpleNamespace(
        pre_questionnaire=[SimpleNamespace(id="age", kind="choice"), SimpleNamespace(id="job", kind="text")],
        post_questionnaire=[SimpleNamespace(id="remarks", kind="text"), SimpleNamespace(id="ease", kind="likert")])
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    answers = [SimpleNamespace(questionnaire=name, question_id=qid, answer=value, participant_id=1,
                               answered_at=t0 + dt.timedelta(seconds=i))
               for i, (name, qid, value) in enumerate([("pre", "age", "18-24"), ("pre", "job", "nurse"),
                                                       ("post", "ease", "5"), ("post", "remarks", "None"),
                                                       ("comprehension", "q1", "Yes"),
                                                       ("comprehension", "comment", "clear")])]
    texts = recent_texts([], answers, {1: "abc"}, free_text_items(study))
    assert list(texts["text"]) == ["clear", "None", "nurse"]
    assert list(texts["where"]) == ["comprehension: comment", "post: remarks", "pre: job"]


def test_analysis_page_names_and_switches_the_reliance_convention_and_measures(setup_study):
    setup_study("decision", trials=8, extra=decision_extra())
    for _ in range(2):
        run_to_end(new_app().run())
    at = new_app()
    at.session_state[state_keys.RESEARCHER_OK] = True
    at.run()
    at.switch_page("app_pages/researcher_analysis.py").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    table = at.dataframe[next(i for i, t in enumerate(at.dataframe) if "empty_denominator" in t.value.columns)]
    assert set(table.value["empty_denominator"]) == {"exclude"}
    assert any("empty denominators: **exclude**" in c.value for c in at.caption)
    assert {"ci_low", "wilson_low", "note"} <= set(table.value.columns)
    definitions = next(t.value for t in at.dataframe if "formula" in t.value.columns)
    assert list(definitions["measure"]) == list(measure_definitions()["measure"])
    assert "Bansal" in definitions.set_index("measure").loc["complementarity", "source"]

    at.radio(key="analysis_reliance_empty").set_value("zero").run()
    at.multiselect(key="analysis_reliance_measures").set_value(["rsr", "complementarity"]).run()
    table = next(t.value for t in at.dataframe if "empty_denominator" in t.value.columns)
    assert set(table["empty_denominator"]) == {"zero"} and set(table["measure"]) <= {"rsr", "complementarity"}
    assert any("empty denominators: **zero**" in c.value for c in at.caption)


def _tick_boxes(fig):
    fig.canvas.draw()
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    return [(t.get_text(), t.get_window_extent(renderer)) for t in ax.get_xticklabels() if t.get_text()]


def test_response_time_axis_names_methods_by_their_labels_without_overlap():
    """Side-by-side combinations and long labels used to print raw keys ('lime;kernel_shap;gradcam') that ran into
    each other; the axis now names the study's labels, wrapped, and no two labels overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from study_app.analysis.tables import distribution_figure, method_labels

    study = SimpleNamespace(methods=[SimpleNamespace(key="lime", label="LIME"),
                                     SimpleNamespace(key="kernel_shap", label="Kernel SHAP"),
                                     SimpleNamespace(key="gradcam", label="Grad-CAM"),
                                     SimpleNamespace(key="ig", label="Integrated Gradients")])
    keys = ["lime;kernel_shap;gradcam", "lime", "kernel_shap", "ig", "gradcam", "human", "ai", "placebo"]
    long = pd.DataFrame({"method": [k for k in keys for _ in range(3)], "seconds": np.arange(24, dtype=float)})
    fig = distribution_figure(long, "seconds", "Time", "seconds", method_labels(study))
    FigureCanvasAgg(fig)
    boxes = _tick_boxes(fig)
    names = [name.replace("\n", " ") for name, _ in boxes]
    assert "LIME + Kernel SHAP + Grad-CAM" in names and "Integrated Gradients" in names and "human alone" in names
    assert not any(";" in n or "_" in n for n in names)
    for (a, box_a), (b, box_b) in zip(boxes, boxes[1:]):
        assert not box_a.overlaps(box_b), f"tick labels {a!r} and {b!r} overlap"
