"""Analysis: per method, accuracy against the no-explanation control, by model correctness, ratings,
helpfulness, response times and the method ranking. Built from the same rows as the CSV export."""

import streamlit as st

from study_app.analysis import tables as analysis
from study_app.analysis.reliance import MEASURES
from study_app.analysis.reliance_report import arm_reliance, participant_reliance
from study_app.store.export import participant_rows, response_rows
from study_app.store.records import COMPLETED
from study_app.ui.researcher_frame import researcher_page

engine = researcher_page("Analysis")
if engine is not None:
    include_pilot = st.toggle("Include pilot runs", value=False, key="analysis_include_pilot",
                              help="Pilot runs (the pilot link) are left out of the analysis unless included.")
    rows = response_rows(engine.repository, engine.record, include_pilot=include_pilot)
    people = participant_rows(engine.repository, engine.record, include_pilot=include_pilot, trial_rows=rows)
    df = analysis.trial_frame(rows)
    completed = sum(1 for p in people if p["status"] == COMPLETED)
    st.caption(f"{len(df)} answered trials (attention checks excluded) from {len(people)} participants, "
               f"{completed} completed. Intervals: 95 % bootstrap over participants.")
    if df.empty:
        st.info("No answers yet: the plots appear as data arrives.")
    else:
        st.subheader("Accuracy by method")
        table = analysis.accuracy_by_method(df)
        st.pyplot(analysis.accuracy_figure(table), clear_figure=False)
        st.dataframe(table, hide_index=True, width="stretch")

        st.subheader("Accuracy when the model was right vs wrong")
        split = analysis.accuracy_by_method(df, by="model_correct")
        st.pyplot(analysis.accuracy_figure(split, "Accuracy split by whether the model was right"))

        st.subheader("Ratings")
        trust = analysis.answer_column_by_method(df, "answer_trust")
        if not trust.empty:
            st.pyplot(analysis.distribution_figure(trust, "value", "Trust in the prediction", "trust"))
        confidence = analysis.answer_column_by_method(df, "answer_confidence")
        if not confidence.empty:
            st.pyplot(analysis.distribution_figure(confidence, "value", "Confidence in the answer", "confidence"))
        effects = analysis.effect_counts(df)
        if not effects.empty:
            st.pyplot(analysis.effect_figure(effects))

        reliance = arm_reliance(rows)
        if not reliance.empty:
            st.subheader("Reliance on the AI's advice")
            st.caption("Per task and arm: the mean of participant values with a 95 % participant-bootstrap "
                       "interval. " + "; ".join(f"**{m.name}**: {m.meaning}" for m in MEASURES[:10])
                       + "; **complementarity**: team accuracy minus the better of the participant's own and "
                       "the AI's (Bansal et al. 2021). Verification tasks give the measures that need no "
                       "initial answer.")
            st.dataframe(reliance, hide_index=True, width="stretch")
            per_participant = participant_reliance(rows)
            st.download_button("Per-participant reliance (CSV)", per_participant.to_csv(index=False),
                               file_name="reliance.csv", mime="text/csv")

        st.subheader("Response times")
        st.pyplot(analysis.distribution_figure(analysis.response_times(df), "seconds",
                                               "Time from trial shown to answer", "seconds"))

    ranking = analysis.ranking_summary(people)
    st.subheader("Method ranking")
    if ranking.empty:
        st.caption("No rankings yet (asked at the end of rate studies with several methods).")
    else:
        st.pyplot(analysis.ranking_figure(ranking))
        st.dataframe(ranking, hide_index=True, width="stretch")
