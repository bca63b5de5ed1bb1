"""The small Streamlit layer shared by the pages: state keys, cached resources, reusable widgets.

Only this package, ``study_app/main.py`` and ``study_app/app_pages`` import Streamlit. What the pages need
that is not about drawing lives below: settings in :mod:`study_app.settings`, maps in :mod:`study_app.maps`,
study rules in :mod:`study_app.study`, analysis in :mod:`study_app.analysis`.
"""
