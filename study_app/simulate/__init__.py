"""``xai-study simulate``: synthetic participants walk the real engine on the study's real database.

:mod:`.behaviour` is the behaviour model (a small TOML file and/or flags), :mod:`.answers` turns it into answers
for whatever step the engine shows (asking each step's protocol, through the engine's own validation and scoring,
which answers are right, which agree with the AI and which pass an attention check), :mod:`.run` drives the
participants on a simulated clock and :mod:`.simulate_cli` is the command. Every participant it enrols is stored
``synthetic``: balanced only against other synthetic participants and left out of every export, the Analysis and
the Progress pages unless asked for (``xai-study export --include-synthetic``, into ``*_synthetic.csv``).
"""
