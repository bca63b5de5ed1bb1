"""Data: the CSV export (the same files as ``xai-study export``) as downloads."""

import tempfile
from pathlib import Path

import streamlit as st

from study_app.store.export import export_study
from study_app.ui.researcher_frame import researcher_page

EXPORT_KEY = "researcher_export"


def provenance_lookup(study_path):
    """Map hashes and faithfulness columns, when the explanation package offers them (as the CLI does)."""
    try:
        from study_app.explain.provenance import make_provenance_lookup
    except ImportError:
        return None
    return make_provenance_lookup(study_path)


engine = researcher_page("Data export")
if engine is not None:
    st.markdown("Long format: one row per participant × trial with full provenance, and one row per "
                "participant with questionnaire answers. Formula-like cells are neutralised for spreadsheets. "
                "Each export is recorded in the study's event log.")
    if st.button("Prepare the CSV export", type="primary", key="prepare_export"):
        with tempfile.TemporaryDirectory() as tmp:
            result = export_study(engine.repository, [engine.record], Path(tmp) / "responses.csv",
                                  Path(tmp) / "participants.csv",
                                  provenance_lookup=provenance_lookup(engine.study.source))
            st.session_state[EXPORT_KEY] = {
                "responses": result.responses_path.read_bytes(),
                "participants": result.participants_path.read_bytes(),
                "summary": f"{result.responses} responses, {result.participants} participants, "
                           f"responses.csv SHA-256 {result.responses_sha256[:16]}…",
            }
    export = st.session_state.get(EXPORT_KEY)
    if export:
        st.success(export["summary"])
        slug = engine.study.id
        st.download_button("Download responses.csv", export["responses"], file_name=f"{slug}_responses.csv",
                           mime="text/csv", key="download_responses", icon=":material/download:")
        st.download_button("Download participants.csv", export["participants"],
                           file_name=f"{slug}_participants.csv", mime="text/csv", key="download_participants",
                           icon=":material/download:")
