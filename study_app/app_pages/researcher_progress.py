"""Live progress: who started, finished or gave up, per condition; refreshes itself every 20 seconds."""

import datetime as dt

import streamlit as st

from study_app.analysis.progress import free_text_items, progress_table, recent_texts, split_pilots
from study_app.export import participant_rows
from study_app.study.quality import QualityRules
from study_app.study.recruitment import quota_full_code, quota_rows
from study_app.study.screening import PILOT_PARAM
from study_app.ui.prolific_panel import prolific_section
from study_app.ui.researcher_frame import researcher_page

engine = researcher_page("Live progress")


@st.fragment(run_every="20s")
def live_progress(engine) -> None:
    repo, record = engine.repository, engine.record
    now = dt.datetime.now(dt.UTC)
    active_since = now - dt.timedelta(minutes=engine.study.inactive_timeout_minutes)
    participants, pilots = split_pilots(repo.participants(record.id))
    table = progress_table(participants, engine.conditions, active_since)
    total = table[table["condition"] == "all"].iloc[0]
    cols = st.columns(5)
    for col, name in zip(cols, ("started", "completed", "screened out", "in progress", "abandoned"), strict=True):
        col.metric(name.capitalize(), int(total[name]))
    st.subheader("Per condition")
    st.table(table.set_index("condition"))
    withdrawn = sum(1 for e in repo.events(record.id) if e.kind == "withdrawal")
    st.caption(f"Abandoned = unfinished and inactive for over {engine.study.inactive_timeout_minutes:g} minutes "
               f"(their slot is reassigned). Withdrawn (data deleted): {withdrawn}. Pilot runs (not counted "
               f"above): {len(pilots)}. Updated {now:%H:%M:%S} UTC.")
    quotas(engine)
    quality_flags(engine)
    st.subheader("Latest free-text answers")
    public_ids = {p.id: p.public_id for p in participants}
    texts = recent_texts(repo.responses(record.id), repo.questionnaire_answers(record.id), public_ids,
                         free_text_items(engine.study))
    if texts.empty:
        st.caption("None yet.")
    for row in texts.itertuples(index=False):
        with st.container(border=True):
            st.caption(f"{row.when:%Y-%m-%d %H:%M} · participant {row.participant} · {row.where}")
            st.text(row.text)  # st.text: participant input is shown verbatim, never as Markdown or HTML


def quotas(engine) -> None:
    """The [recruitment] caps against the balance's counts (shown only when the study file sets caps)."""
    recruitment = engine.study.recruitment
    if not recruitment.capped:
        return
    st.subheader("Caps")
    rows = quota_rows(recruitment, engine.condition_counts())
    st.dataframe([{**r, "cap": "—" if r["cap"] is None else r["cap"], "open": "yes" if r["open"] else "full"}
                  for r in rows], hide_index=True)
    st.caption("Counted as the assignment balance counts: completed and recently active participants (not pilots, "
               "not screened out, returned or timed out). A full condition takes no newcomers; when none is open, "
               "the consent page tells visitors the study is full and gives them "
               f"{'the code ' + quota_full_code(engine.study) if quota_full_code(engine.study) else 'no code'}.")


def quality_flags(engine) -> None:
    """Participants with a data-quality flag (nobody is excluded: the researcher decides)."""
    st.subheader("Data-quality flags")
    rules = QualityRules.of(engine.study)
    flagged = [r for r in participant_rows(engine.repository, engine.record, rules=rules) if r["quality_flags"]]
    if not flagged:
        st.caption("No participant is flagged.")
        return
    st.dataframe([{"participant": r["participant"], "status": r["status"], "flags": r["quality_flags"],
                   "too fast": r["too_fast_trials"], "failed checks": r["failed_checks"],
                   "of which comprehension": r["failed_comprehension"],
                   "straight-lining": r["straight_lining"], "page hidden (times)": r["hidden_count"],
                   "away (s)": round(r["away_ms"] / 1000, 1),
                   "refused ids": r["external_ids_refused"]} for r in flagged], hide_index=True)
    st.caption(f"too_fast: answered in under {engine.study.min_trial_seconds or '—'} s (min_trial_seconds); "
               "attention: failed an attention check; comprehension: answered a comprehension question "
               "wrongly (failed checks counts both, as screen_out_after does); straight_lining: the same "
               "value on every scale answer (5 or more); away: page hidden or window unfocused for 10 s or "
               "more in all; external_id_refused: the study link carried an unusable Prolific id (named "
               "under refused ids; the usable ones were kept); no_prolific_id: no PROLIFIC_PID in a study that "
               "returns participants to Prolific (match them by hand before paying). "
               "The same columns are in participants.csv and responses.csv. Nobody is excluded "
               "automatically.")


def pilot_link(engine) -> None:
    with st.expander("Pilot link: try the real study without adding to its data"):
        base = str(st.context.url or "").split("?")[0].rsplit("/", 1)[0]
        st.code(f"{base}/?{PILOT_PARAM}={engine.pilot_key}", language=None)
        st.caption("Answers given through this link are stored flagged as pilot: they never count towards "
                   "the assignment balance and are left out of exports and analysis unless you include them "
                   "(Data page, or xai-study export --include-pilot). Keep the link to the research team.")


if engine is not None:
    pilot_link(engine)
    prolific_section(engine)
    live_progress(engine)
