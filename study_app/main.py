"""The study app's entry point: ``streamlit run study_app/main.py``.

A thin router: page configuration, the page list, run. Participants see one page (the study, which
follows the engine from consent to completion) and no navigation; the researcher area lives at
``/researcher`` behind a password and, once unlocked, shows its pages in the sidebar.
Which study runs: ``streamlit run study_app/main.py -- --study FILE``, else ``XAI_STUDY_FILE``, else
``study_file`` in ``.streamlit/secrets.toml``, else the bundled demo (see :mod:`study_app.settings`).

The file has two roles. ``streamlit run`` finds the ``st.App`` below and imports this module (as ``main``)
to serve it: its lifespan loads the study, models and maps before the server answers anything, health check
included (:mod:`study_app.ui.warm_start`), so no participant waits for a cold start. Every browser session
then runs this same file as its script, under the name ``__main__`` (AppTest too): that is the router.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from study_app.ui import state_keys
from study_app.ui.language import TAB_TITLE
from study_app.ui.logging_setup import configure_logging
from study_app.ui.page_recovery import chunk_recovery
from study_app.ui.page_style import page_style
from study_app.ui.password_gate import announce_demo_password
from study_app.ui.resources import StudyUnavailable, app_settings
from study_app.ui.warm_start import warm_lifespan

PAGES = Path(__file__).parent / "app_pages"

# Modules the participant's first page imports: loaded during the warm-up, not on a participant's time.
FIRST_PAGE_MODULES = ("study_app.app_pages.participant_flow",)


def route() -> None:
    """One script run: page configuration, the page list, run the chosen page."""
    try:
        page_timing = app_settings().page_timing.value
    except StudyUnavailable:  # the page says why
        page_timing = False
    configure_logging(page_timing=page_timing)
    announce_demo_password()  # bundled demo without a password: one-time password to the log, once per process
    # An emoji icon: the browser draws it from a data URL. A ":material/...:" page icon made every participant's
    # browser fetch it from fonts.gstatic.com, a third party the consent text does not name (and absent offline).
    st.set_page_config(page_title=TAB_TITLE, page_icon="🔬", layout="centered",
                       initial_sidebar_state="auto", menu_items={})
    page_style()  # keyboard focus visible, touch targets large enough
    chunk_recovery()  # a page that failed to load a piece of Streamlit's code reloads itself (same address)

    study = st.Page(PAGES / "study.py", title="Study", icon=":material/assignment:", url_path="study", default=True)
    if st.session_state.get(state_keys.RESEARCHER_OK):
        pages: dict | list = {
            "Participants": [study],
            "Researcher": [
                st.Page(PAGES / "researcher_readiness.py", title="Readiness", icon=":material/checklist:",
                        url_path="researcher"),
                st.Page(PAGES / "researcher_progress.py", title="Progress", icon=":material/monitoring:",
                        url_path="progress"),
                st.Page(PAGES / "researcher_preview.py", title="Preview", icon=":material/visibility:",
                        url_path="preview"),
                st.Page(PAGES / "researcher_gallery.py", title="Gallery", icon=":material/photo_library:",
                        url_path="gallery"),
                st.Page(PAGES / "researcher_analysis.py", title="Analysis", icon=":material/analytics:",
                        url_path="analysis"),
                st.Page(PAGES / "researcher_data.py", title="Data", icon=":material/download:", url_path="data"),
            ],
        }
        current = st.navigation(pages, position="hidden")
        sidebar_links(pages)
    else:
        login = st.Page(PAGES / "researcher_login.py", title="Researcher", icon=":material/lock:",
                        url_path="researcher")
        current = st.navigation([study, login], position="hidden")
    current.run()


def sidebar_links(sections: dict) -> None:
    """The researcher's navigation, drawn as page links under section headings. Streamlit's own sidebar
    navigation wraps its list items in ``<div>``s, which breaks the list for screen readers (axe: "list",
    "listitem"); these links are plain links."""
    with st.sidebar:
        for heading, section in sections.items():
            st.markdown(f"**{heading}**")
            for page in section:
                st.page_link(page)


if __name__ == "__main__":  # a browser session's script run (Streamlit names the script's module __main__)
    route()
else:  # imported by `streamlit run` (or an ASGI server) to serve the app: warm first, then answer
    app = st.App(__file__, lifespan=warm_lifespan(FIRST_PAGE_MODULES))
