"""The study's maps: every map a study can show, served rendered and cached, and precomputed. No Streamlit.

Sits between the explanation package (Captum methods, the on-disk attribution cache) and the app: it speaks
the study's language (a :class:`~study_app.study.steps.ShownMethod` on a trial's image) and turns it into
calls of :class:`~study_app.explain.service.ExplanationService`.

* :mod:`.service`: :class:`StudyMapService`, one per process: rendered PNGs in memory, each with the
  SHA-256 of its bytes (computed once per rendered PNG), what the engine records when a trial is shown.
* :mod:`.coverage`: the maps a study can show, which of them are cached, precompute and warm-up.
* :mod:`.precompute_cli`: ``xai-study precompute`` (``--study`` here; image folders in the explanation package).
"""
