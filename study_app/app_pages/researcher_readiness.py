"""Readiness: the settings in effect and the same checks as ``xai-study check``, before anyone is invited."""

import pandas as pd
import streamlit as st

from study_app.readiness import check_readiness
from study_app.settings import BUNDLED_EXAMPLE
from study_app.ui.researcher_frame import researcher_page
from study_app.ui.resources import app_settings

researcher_page("Readiness check", need_engine=False)
settings = app_settings()
if settings.source == BUNDLED_EXAMPLE:
    st.info("No study file is configured and the bundled demo is not present yet, so an example study runs. "
            "Set `XAI_STUDY_FILE` or `study_file` in `.streamlit/secrets.toml`.")
with st.spinner("Checking the study, its checkpoints and the attribution cache…"):
    readiness = check_readiness(settings)
if readiness.ready:
    st.success(f"Ready to launch ({readiness.seconds:.1f} s).", icon=":material/check_circle:")
else:
    st.error("Not ready: fix the failing checks below.", icon=":material/cancel:")
st.table(pd.DataFrame([{"result": {"ok": "✅ ok", "FAIL": "❌ fail", "warn": "⚠️ warning"}[c.mark],
                        "check": c.name, "detail": c.detail} for c in readiness.checks]).set_index("result"))
st.subheader("Settings")
st.caption("Each setting as this server decided it, and where it came from. Secrets show only whether they "
           "are set.")
st.table(pd.DataFrame(settings.table()).set_index("setting"))
st.caption("The same check from a terminal: `xai-study check` (exits non-zero when not ready).")
if st.button("Run the check again", key="rerun_readiness"):
    st.rerun()
