"""Analysis: per method, accuracy against the no-explanation control, by model correctness, ratings,
helpfulness, response times and the method ranking. Built from the same rows as the CSV export."""

import pandas as pd
import streamlit as st

from study_app.analysis import tables as analysis
from study_app.analysis.instrument_scores import hive_summary, instrument_summary, study_instruments
from study_app.analysis.prereg_lock import deviation
from study_app.analysis.reliance import EMPTY_CONVENTIONS, EXCLUDE, ZERO
from study_app.analysis.reliance_arms import CI_METHOD, MIN_PARTICIPANTS, measure_definitions
from study_app.export import participant_rows, response_rows
from study_app.export.reliance_report import (
    arm_reliance,
    participant_reliance,
    reliance_trials,
)
from study_app.store.records import COMPLETED
from study_app.ui.charts import chart
from study_app.ui.researcher_frame import researcher_page

SHOWN_BY_DEFAULT = ("accuracy_final", "agreement", "switch_to_ai", "any_change", "accuracy_wid", "over_reliance",
                    "under_reliance", "rair", "rsr", "advice_request_rate", "time_final_s", "human_alone",
                    "complementarity")
CONVENTION_HELP = {EXCLUDE: "a participant with no eligible trial for a measure has no value and is left out of "
                            "the mean (the column 'empty' counts them)",
                   ZERO: "a participant with no eligible trial counts 0 and stays in the mean, as Schemmer et al. "
                         "(2023) and He et al. (2023) compute RAIR, RSR, switching and accuracy-wid"}


def _reliance_section(rows) -> None:
    """Reliance per task and arm, with the convention, weighting and measures the researcher picks."""
    st.subheader("Reliance on the AI's advice")
    left, right = st.columns(2)
    empty = left.radio("Empty denominators", EMPTY_CONVENTIONS, horizontal=True, key="analysis_reliance_empty",
                       help="; ".join(f"{k}: {v}" for k, v in CONVENTION_HELP.items()))
    weighting = right.radio("Arm estimate", ("participant", "trial"), horizontal=True,
                            key="analysis_reliance_weighting",
                            help="participant: mean of participant values (each participant weighs the same); "
                                 "trial: share of all eligible trials pooled (no convention needed)")
    names = list(measure_definitions()["measure"])
    chosen = st.multiselect("Measures", names, default=[n for n in SHOWN_BY_DEFAULT if n in names],
                            key="analysis_reliance_measures")
    reliance = arm_reliance(rows, empty=empty, weighting=weighting)
    st.caption(f"Per task and arm; empty denominators: **{empty}** ({CONVENTION_HELP[empty]}). Advice given on "
               "request and never requested was not seen: such trials count for accuracy and times, not for "
               "reliance; in the human arm (no advice shown) agreement and over-/under-reliance are chance "
               f"baselines. ci_low/ci_high: 95 % {CI_METHOD} interval; below {MIN_PARTICIPANTS} participants it is "
               "too narrow and 'note' says so. pooled, wilson_low/wilson_high: the share over all eligible trials "
               "with its Wilson score interval. Complementarity compares team accuracy with the better of the human "
               "arm (or, without one, the arm's initial answers) and the AI (Bansal et al. 2021). Verification "
               "tasks give the measures that need no initial answer.")
    st.dataframe(reliance[reliance["measure"].isin(chosen)], hide_index=True, width="stretch")
    st.download_button("Per-participant reliance (CSV)", participant_reliance(rows, empty=empty).to_csv(index=False),
                       file_name="reliance.csv", mime="text/csv")
    with st.expander("Definitions of the reliance measures"):
        st.dataframe(measure_definitions(), hide_index=True, width="stretch")


def _hive_section(engine, people) -> None:
    """The HIVE sequence's ratings of understanding and their changes (studies with ``hive_sequence``)."""
    if not engine.study.hive_sequence or not people:
        return
    st.subheader("Self-rated understanding (HIVE)")
    st.caption("\"How well do you think you understand the model's reasoning process?\" (1 = very poor, 5 = very "
               "good; Kim et al. 2022), before the trials, after them, and after each participant was shown their "
               "own accuracy. Changes are paired (later minus earlier rating, over participants with both); 95 % "
               "t intervals.")
    st.dataframe(hive_summary(pd.DataFrame(people)), hide_index=True, width="stretch")


def _questionnaire_section(engine, people) -> None:
    """Validated questionnaires the study names: scores per arm (between-subjects) or overall, with Cronbach's
    alpha, and what the researcher must cite and know about each text."""
    uses = study_instruments(engine.study.source)
    if not uses or not people:
        return
    summary = instrument_summary(pd.DataFrame(people), uses, between=engine.study.design.type == "between")
    st.subheader("Validated questionnaires")
    st.caption("Scores as published (reverse-coded items, subscales; a missing item leaves the score empty, "
               "never prorated). Mean with a 95 % t interval over participants; Cronbach's alpha with Feldt's "
               "95 % interval over participants who answered every item.")
    st.dataframe(summary.means, hide_index=True, width="stretch")
    if not summary.per_arm.empty:
        st.caption("Asked after each arm's block of trials (per_arm): mean per arm over the participants who "
                   "answered about it (within-subjects: the same people in every arm; the intervals are per arm, "
                   "not of the differences). Alpha below is per arm (arm_<arm>_... rows).")
        st.dataframe(summary.per_arm, hide_index=True, width="stretch")
    st.dataframe(summary.consistency, hide_index=True, width="stretch")
    for note in summary.notes(engine.study.language):
        st.caption(note)


def _registration_notice(study_file: str) -> None:
    """Whether the running study file is still the one pre-registered (``xai-study prereg``'s lock)."""
    try:
        registration = deviation(study_file)
    except (OSError, ValueError) as exc:  # an unreadable or corrupt prereg.json
        st.warning(f"The pre-registration lock cannot be read: {exc}")
        return
    if registration.registered:
        matches = registration.matches and not registration.scripts_changed
        (st.caption if matches else st.warning)("Pre-registration: " + registration.describe())


engine = researcher_page("Analysis")
if engine is not None:
    include_pilot = st.toggle("Include pilot runs", value=False, key="analysis_include_pilot",
                              help="Pilot runs (the pilot link) are left out of the analysis unless included.")
    rows = response_rows(engine.repository, engine.record, include_pilot=include_pilot)
    people = participant_rows(engine.repository, engine.record, include_pilot=include_pilot, trial_rows=rows)
    df = analysis.trial_frame(rows)
    labels = analysis.method_labels(engine.study)
    completed = sum(1 for p in people if p["status"] == COMPLETED)
    st.caption(f"{len(df)} answered trials (attention checks excluded) from {len(people)} participants, "
               f"{completed} completed. Intervals: 95 % bootstrap over participants.")
    _registration_notice(engine.study.source)
    if df.empty:
        st.info("No answers yet: the plots appear as data arrives.")
    else:
        st.subheader("Accuracy by method")
        table = analysis.accuracy_by_method(df)
        chart(analysis.accuracy_figure(table, labels=labels))
        st.dataframe(table, hide_index=True, width="stretch")

        st.subheader("Accuracy when the model was right vs wrong")
        split = analysis.accuracy_by_method(df, by="model_correct")
        chart(analysis.accuracy_figure(split, "Accuracy split by whether the model was right", labels))

        st.subheader("Ratings")
        trust = analysis.answer_column_by_method(df, "answer_trust")
        if not trust.empty:
            chart(analysis.distribution_figure(trust, "value", "Trust in the prediction", "trust", labels))
        confidence = analysis.answer_column_by_method(df, "answer_confidence")
        if not confidence.empty:
            chart(analysis.distribution_figure(confidence, "value", "Confidence in the answer", "confidence",
                                                   labels))
        effects = analysis.effect_counts(df)
        if not effects.empty:
            chart(analysis.effect_figure(effects, labels))

        if reliance_trials(rows):
            _reliance_section(rows)

        st.subheader("Response times")
        chart(analysis.distribution_figure(analysis.response_times(df), "seconds",
                                               "Time from trial shown to answer", "seconds", labels))

    _questionnaire_section(engine, people)
    _hive_section(engine, people)

    ranking = analysis.ranking_summary(people)
    st.subheader("Method ranking")
    if ranking.empty:
        st.caption("No rankings yet (asked at the end of rate studies with several methods).")
    else:
        chart(analysis.ranking_figure(ranking, labels))
        st.dataframe(ranking, hide_index=True, width="stretch")
