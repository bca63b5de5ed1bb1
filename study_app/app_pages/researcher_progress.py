"""Live progress: who started, finished or gave up, per condition; refreshes itself every 20 seconds."""

import datetime as dt

import streamlit as st

from study_app.analysis.progress import progress_table, recent_texts
from study_app.ui.researcher_frame import researcher_page

engine = researcher_page("Live progress")


@st.fragment(run_every="20s")
def live_progress(engine) -> None:
    repo, record = engine.repository, engine.record
    now = dt.datetime.now(dt.UTC)
    active_since = now - dt.timedelta(minutes=engine.study.inactive_timeout_minutes)
    participants = repo.participants(record.id)
    table = progress_table(participants, engine.conditions, active_since)
    total = table[table["condition"] == "all"].iloc[0]
    cols = st.columns(4)
    for col, name in zip(cols, ("started", "completed", "in progress", "abandoned"), strict=True):
        col.metric(name.capitalize(), int(total[name]))
    st.subheader("Per condition")
    st.table(table.set_index("condition"))
    withdrawn = sum(1 for e in repo.events(record.id) if e.kind == "withdrawal")
    st.caption(f"Abandoned = unfinished and inactive for over {engine.study.inactive_timeout_minutes:g} minutes "
               f"(their slot is reassigned). Withdrawn (data deleted): {withdrawn}. "
               f"Updated {now:%H:%M:%S} UTC.")
    st.subheader("Latest free-text answers")
    public_ids = {p.id: p.public_id for p in participants}
    texts = recent_texts(repo.responses(record.id), repo.questionnaire_answers(record.id), public_ids)
    if texts.empty:
        st.caption("None yet.")
    for row in texts.itertuples(index=False):
        with st.container(border=True):
            st.caption(f"{row.when:%Y-%m-%d %H:%M} · participant {row.participant} · {row.where}")
            st.text(row.text)  # st.text: participant input is shown verbatim, never as Markdown or HTML


if engine is not None:
    live_progress(engine)
