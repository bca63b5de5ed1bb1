"""Recruitment on Prolific: its API client (``prolific_api``), each submission next to what we hold for it
(``reconcile``), the five actions with their dry runs and audit entries (``actions``) and ``xai-study prolific``
(``prolific_cli``). The caps per condition live with the study file (:mod:`study_app.study.recruitment`)."""
