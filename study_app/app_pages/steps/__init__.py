"""Renderers for each participant step: ``render(step, ...)`` draws it and returns the answer or ``None``."""
