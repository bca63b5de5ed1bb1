"""The study file's explanation methods: ``[[methods]]`` (maps and panels, checked against their registries) and a
task's ``methods`` (the study's method keys it shows)."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from study_app.explain.methods import METHODS, get_method
from study_app.explain.panels import PANEL_DEFAULTS, check_params, is_panel
from study_app.study.errors import StudyFileError
from study_app.study.fields import Fields, Problems
from study_app.study.schema import Design, MethodConfig
from study_app.study.steps import NO_EXPLANATION

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@.-]{0,63}$")  # as the parser's question ids


def known_method_names() -> tuple[str, ...]:
    """Names the explanation registries offer: the maps' methods, then the panels (similar examples, ...)."""
    return (*METHODS, *PANEL_DEFAULTS)


def _check_method_params(name: str, params: dict) -> str | None:
    """The registry's complaint about ``params`` (unknown or invalid), or ``None``."""
    try:
        check_params(name, params) if is_panel(name) else get_method(name, **params)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _parse_method(source: str, path: str, raw: Any, known: tuple[str, ...]) -> MethodConfig:
    f = Fields(source, path, raw)
    name = f.text("name")
    if name not in known:
        raise f.error("name", f"unknown method {name!r}; known: {', '.join(known)}")
    key = f.text("key", name)
    if not _KEY.match(key) or key == NO_EXPLANATION:
        raise f.error("key", f"{key!r} must be letters, digits, _ - . @ (max 64) and not {NO_EXPLANATION!r}")
    label = f.text("label", name)
    params = f.get("params", dict, {})
    f.finish()
    problem = _check_method_params(name, params)
    if problem:
        raise f.error("params", problem)
    return MethodConfig(key=key, name=name, label=label, params=dict(params))


def parse_methods(source: str, raw: list | None, design: Design | None, blind: bool, _: Callable[[str], str],
                   problems: Problems) -> list[MethodConfig] | None:
    """The ``[[methods]]`` (with the design's negative control and blinding applied); ``None`` when any of them
    is broken, so that checks against method keys do not report knock-on errors."""
    if raw is None:
        return None
    if not raw:
        problems.add(StudyFileError(source, "methods", "at least one method is required"))
        return None
    known = known_method_names()
    read = [problems.read(_parse_method, source, f"methods[{i}]", m, known) for i, m in enumerate(raw)]
    if any(m is None for m in read):
        return None
    methods: list[MethodConfig] = list(read)
    for i, m in enumerate(methods):
        if any(m.key == o.key for o in methods[:i]):
            problems.add(StudyFileError(source, f"methods[{i}].key", f"duplicate method key {m.key!r}"))
    negative = design.negative_control if design else None
    if negative is not None:
        base = next((m for m in methods if m.key == negative), None)
        if base is None:
            problems.add(StudyFileError(source, "design.negative_control", f"{negative!r} is not a method key "
                                                                           f"({', '.join(m.key for m in methods)})"))
            return None
        methods.append(MethodConfig(key=f"{base.key}@random", name=base.name,
                                    label=_("{label} (random model)").format(label=base.label),
                                    params=dict(base.params), randomized_model=True))
    if blind:
        methods = [MethodConfig(key=m.key, name=m.name, label=_("Explanation {letter}").format(letter=chr(65 + i)),
                                params=m.params, randomized_model=m.randomized_model) for i, m in enumerate(methods)]
    return methods


def parse_task_methods(f: Fields, own: dict) -> tuple[str, ...]:
    """``methods``: the study's method keys this task shows (checked against them by :func:`_check_task_methods`);
    a decision task names its arms in ``arms`` instead."""
    raw = f.get("methods", list, None)
    if raw is None:
        return ()
    if own.get("decision") is not None:
        raise f.error("methods", "a decision task names the methods it shows in 'arms'")
    if not raw or not all(isinstance(k, str) and k.strip() for k in raw):
        raise f.error("methods", "must be a non-empty list of method keys (the [[methods]] entries' key)")
    if len(set(raw)) != len(raw):
        raise f.error("methods", "contains duplicates")
    return tuple(raw)


def check_task_methods(source: str, tasks, method_keys: list[str]) -> None:
    """Every key a task's ``methods`` names is a method of the study."""
    for i, task in enumerate(tasks):
        unknown = [k for k in task.methods if k not in method_keys]
        if unknown:
            raise StudyFileError(source, f"tasks[{i}].methods", f"{unknown[0]!r} is not a method key "
                                                                f"({', '.join(method_keys)})")
