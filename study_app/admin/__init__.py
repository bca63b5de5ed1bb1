"""The operator's commands on a study's database: ``xai-study db``, ``backup``, ``restore`` and
``researcher unlock``. Each takes ``--study`` or ``--db``, finds the database exactly as the app does
(:func:`study_app.settings.resolve`) and prints which one it used (passwords masked)."""
