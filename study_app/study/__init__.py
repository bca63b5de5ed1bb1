"""Study engine: study file schema, design and randomisation, participant state machine.

Plain Python: no Streamlit import, so the engine is tested and reused on its own. The app is a thin skin::

    from study_app.study import StudyEngine, load_study, AnswerError
    from study_app.store import Repository, make_engine, resolve_db_url

    study = load_study("examples/studies/verification.toml")        # validates file, images, checkpoints
    repo = Repository(make_engine(resolve_db_url(study_path=study.source)))
    engine = StudyEngine(study, repo)                                # share one per process (cache_resource)

    # every script run:
    token = engine.start_or_resume(st.session_state.get(PARTICIPANT_TOKEN), external_ids=st.query_params.to_dict())
    st.session_state[PARTICIPANT_TOKEN] = token          # the key from study_app.ui.state_keys
    step = engine.current_step(token)      # Step(kind=..., step_id=..., ...)
    ...draw step, collect `answer` (a dict)...
    try:
        step = engine.submit(token, step.step_id, answer)   # stale/duplicate step ids are ignored
    except AnswerError as err:                              # err.field names the bad answer key
        ...
    engine.withdraw(token)                 # deletes the participant's data; returns Step(kind="withdrawn")

``Step.kind`` is one of ``consent`` (``text``: Markdown), ``pre_questionnaire`` / ``post_questionnaire``
(``questions``), ``instructions`` (``text``), ``trial`` (``trial``: a :class:`TrialSpec`), ``done``
(``completion_code``, ``redirect_url``), ``declined`` (consent refused; nothing stored) and
``withdrawn``. Answer shapes per step are listed in :mod:`study_app.study.answers`; in short:

* consent ``{"agree": True}``; instructions and forward-simulation ``learn`` ``{}``
* questionnaire ``{question_id: value}``
* rate ``trust`` phase ``{"trust": int}``; ``explanation`` phase ``{"effect": {method_key: "helped" |
  "no_effect" | "hurt"}}``
* verification ``{"decision": "accept" | "reject", "confidence": int}``
* forward-simulation ``predict`` and distinction ``{"choice": option, "confidence": int (optional)}``

Read-only attributes of an engine, for researcher pages: ``study``, ``repository``, ``record`` (the
stored study version: ``id``, ``slug``, ``file_sha256``), ``conditions`` (labels), ``predictions``
(``{task: TaskPredictions}``), ``items`` (``{task: {"learn": [...], "test": [...]}}`` image ids) and
``condition_counts()``. Exports: :func:`study_app.export.study_export.export_study`, which reads the plans
and the records the engine wrote when each trial was shown (pass ``maps=`` a map server to record served PNG
hashes).

Nothing is written before consent; ``start_or_resume`` creates no row. Timing is server-side: a stage's
shown time is recorded the first time ``current_step`` serves it, and the answer time on ``submit``.
Trial images: open ``trial.image_path`` with ``trainers.images.open_rgb`` and crop with
``trainers.predict.display_image``; draw each ``trial.methods`` entry with the explanation registry (its
``target`` is the class to explain, ``randomized_model`` asks for the negative-control model). Never show
``image_id``/``image_path`` to participants (class folder names are in them).
"""

from study_app.study.engine import StudyEngine, normalise_external_ids
from study_app.study.errors import AnswerError, StudyFileError, StudyFileErrors, UnknownParticipantError
from study_app.study.loader import load_study
from study_app.study.schema import Study
from study_app.study.steps import PredictionView, Question, ShownMethod, Step, TrialSpec

__all__ = [
    "AnswerError",
    "PredictionView",
    "Question",
    "ShownMethod",
    "Step",
    "Study",
    "StudyEngine",
    "StudyFileError",
    "StudyFileErrors",
    "TrialSpec",
    "UnknownParticipantError",
    "load_study",
    "normalise_external_ids",
]
