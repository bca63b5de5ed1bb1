"""Data: the CSV export (the same files as ``xai-study export``) as downloads, and the researcher audit log."""

import tempfile
from pathlib import Path

import streamlit as st

from study_app.export import AUDIT_COLUMNS, export_study, write_audit_csv
from study_app.study.quality import QualityRules
from study_app.ui.researcher_frame import researcher_page
from study_app.ui.state_keys import RESEARCHER_EXPORT

AUDIT_SHOWN = 200


engine = researcher_page("Data export")
if engine is not None:
    st.markdown("Long format: one row per participant × trial with full provenance, and one row per "
                "participant with questionnaire answers. Formula-like cells are neutralised for spreadsheets. "
                "Each export is recorded in the study's event log.")
    include_pilot = st.toggle("Include pilot runs", value=False, key="export_include_pilot",
                              help="Pilot runs (the pilot link) are left out unless included; a pilot column marks them.")
    if st.button("Prepare the CSV export", type="primary", key="prepare_export"):
        with tempfile.TemporaryDirectory() as tmp:
            result = export_study(engine.repository, [engine.record], Path(tmp) / "responses.csv",
                                  Path(tmp) / "participants.csv",
                                  audit_path=Path(tmp) / "audit_log.csv", actor="web", include_pilot=include_pilot,
                                  rules=QualityRules.of(engine.study),
                                  study_dir=Path(engine.study.source).parent if engine.study.source else None)
            st.session_state[RESEARCHER_EXPORT] = {
                "responses": result.responses_path.read_bytes(),
                "participants": result.participants_path.read_bytes(),
                "audit": result.audit_path.read_bytes(),
                "summary": f"{result.responses} responses, {result.participants} participants, "
                           f"responses.csv SHA-256 {result.responses_sha256[:16]}…",
            }
    export = st.session_state.get(RESEARCHER_EXPORT)
    if export:
        st.success(export["summary"])
        slug = engine.study.id
        st.download_button("Download responses.csv", export["responses"], file_name=f"{slug}_responses.csv",
                           mime="text/csv", key="download_responses", icon=":material/download:")
        st.download_button("Download participants.csv", export["participants"],
                           file_name=f"{slug}_participants.csv", mime="text/csv", key="download_participants",
                           icon=":material/download:")
        st.download_button("Download audit_log.csv", export["audit"], file_name=f"{slug}_audit_log.csv",
                           mime="text/csv", key="download_audit", icon=":material/download:")

    st.subheader("Audit log")
    st.caption("Every researcher login (and refused login), export, backup and participant withdrawal, newest "
               "first, for this whole database. Nothing deletes from it; it holds no participant data.")
    entries = engine.repository.audit_log(limit=AUDIT_SHOWN)
    if entries:
        st.dataframe(
            [{"at": e.at.strftime("%Y-%m-%d %H:%M:%S UTC"), "action": e.action, "outcome": e.outcome,
              "actor": e.actor, "study_id": e.study_slug or "", "detail": str(e.detail)} for e in entries],
            hide_index=True, width="stretch", column_order=[c for c in AUDIT_COLUMNS if c != "id"],
        )
        with tempfile.TemporaryDirectory() as tmp:
            write_audit_csv(engine.repository, Path(tmp) / "audit.csv")
            full = (Path(tmp) / "audit.csv").read_bytes()
        st.download_button("Download the whole audit log", full, file_name=f"{engine.study.id}_audit_log.csv",
                           mime="text/csv", key="download_audit_full", icon=":material/download:")
    else:
        st.info("Nothing logged yet.")
