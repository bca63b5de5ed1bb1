"""The small Streamlit layer shared by the pages: state keys, cached resources, reusable widgets.

Only this package, ``study_app/main.py`` and ``study_app/app_pages`` import Streamlit; the exception is
:mod:`study_app.ui.settings`, which is plain Python so that ``xai-study check`` can share it.
"""
