"""The study file parsed into :mod:`study_app.study.schema`'s dataclasses, every field checked with its path.

A researcher edits the file by hand, so a mistake must come back as ``study.toml: tasks[1].trials: must be
a positive integer`` rather than a ``KeyError`` three calls later. Parsing here is pure (no file system
access but the message catalogues, :mod:`study_app.i18n`); :mod:`study_app.study.loader` reads the file, resolves paths and checks images and checkpoints.
Method names and parameters are checked against the explanation registry, the one list of methods.
"""

from __future__ import annotations

import re
from typing import Any

from study_app.explain.methods import METHODS, get_method
from study_app.i18n import DEFAULT_LANGUAGE, available_languages, translator
from study_app.study.decision import check_decision_arms, parse_decision
from study_app.study.device_gate import DeviceGate
from study_app.study.errors import StudyFileError
from study_app.study.schema import (
    Design,
    MethodConfig,
    StimulusSpec,
    Study,
    TaskConfig,
    default_pre_questionnaire,
)
from study_app.study.steps import DISTINCTION, FORWARD_SIMULATION, NO_EXPLANATION, PROTOCOLS, RATE, Question

QUESTION_KINDS = ("choice", "likert", "text", "number", "rank")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@.-]{0,63}$")


def known_method_names() -> tuple[str, ...]:
    """Names the explanation registry offers: the one list of methods."""
    return tuple(METHODS)


def _check_method_params(name: str, params: dict) -> str | None:
    """The registry's complaint about ``params`` (unknown or invalid), or ``None``."""
    try:
        get_method(name, **params)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


class _Fields:
    """Reads one TOML table, remembering its path for error messages and refusing unknown keys."""

    def __init__(self, source: str, path: str, table: Any):
        self.source, self.path = source, path
        if not isinstance(table, dict):
            raise StudyFileError(source, path, f"expected a table, got {type(table).__name__}")
        self.table = table
        self.used: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def error(self, key: str, message: str) -> StudyFileError:
        return StudyFileError(self.source, self.where(key), message)

    def get(self, key: str, kind: type | tuple, default: Any = ..., *, what: str = "") -> Any:
        self.used.add(key)
        if key not in self.table:
            if default is ...:
                raise self.error(key, "is required")
            return default
        value = self.table[key]
        kinds = kind if isinstance(kind, tuple) else (kind,)
        if bool not in kinds and isinstance(value, bool) and (int in kinds or float in kinds):
            raise self.error(key, f"must be {what or _kind_name(kinds)}, got a boolean")
        if not isinstance(value, kinds):
            raise self.error(key, f"must be {what or _kind_name(kinds)}, got {type(value).__name__}")
        return value

    def text(self, key: str, default: Any = ..., *, nonempty: bool = True) -> Any:
        value = self.get(key, str, default)
        if isinstance(value, str) and nonempty and not value.strip():
            raise self.error(key, "must not be empty")
        return value

    def positive_int(self, key: str, default: Any = ..., *, minimum: int = 1) -> int:
        value = self.get(key, int, default)
        if value < minimum:
            raise self.error(key, f"must be an integer >= {minimum}, got {value}")
        return value

    def finish(self) -> None:
        unknown = sorted(set(self.table) - self.used)
        if unknown:
            raise self.error(unknown[0], f"unknown key (allowed: {', '.join(sorted(self.used))})")


def _kind_name(kinds: tuple) -> str:
    names = {str: "a string", int: "an integer", float: "a number", bool: "true or false", list: "a list",
             dict: "a table"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _parse_question(source: str, path: str, raw: Any, *, comprehension: bool = False) -> Question:
    f = _Fields(source, path, raw)
    qid = f.text("id")
    if not _KEY.match(qid):
        raise f.error("id", f"{qid!r} must be letters, digits, _ - . @ (max 64)")
    if comprehension and qid == "comment":
        raise f.error("id", "'comment' is taken by the instructions page's comment; choose another id")
    text = f.text("text")
    kind = f.text("kind", "choice" if comprehension else ...)
    if kind not in QUESTION_KINDS:
        raise f.error("kind", f"{kind!r} is not one of {', '.join(QUESTION_KINDS)}")
    if comprehension and kind != "choice":
        raise f.error("kind", f"a comprehension question is a choice with one right option, not {kind!r}")
    if not comprehension and "correct" in f.table:
        raise f.error("correct", "only applies to [[comprehension]] questions (shown under the instructions)")
    correct = f.text("correct") if comprehension else None
    options = f.get("options", list, [])
    if not all(isinstance(o, str) and o.strip() for o in options):
        raise f.error("options", "must be a list of non-empty strings")
    if len(set(options)) != len(options):
        raise f.error("options", "contains duplicates")
    low = f.get("low", int, None)
    high = f.get("high", int, None)
    required = f.get("required", bool, True)
    max_length = f.positive_int("max_length", 10_000)
    f.finish()
    if kind in ("choice", "rank") and len(options) < 2:
        raise f.error("options", f"a {kind} question needs at least two options")
    if correct is not None and correct not in options:
        raise f.error("correct", f"{correct!r} is not one of the options ({', '.join(map(repr, options))})")
    if comprehension and not required:
        raise f.error("required", "a comprehension question must be answered (leave required out)")
    if kind == "likert":
        low, high = (1 if low is None else low), (7 if high is None else high)
    if low is not None and high is not None and low >= high:
        raise f.error("high", f"must be greater than low ({low})")
    return Question(id=qid, text=text, kind=kind, options=tuple(options), low=low, high=high,
                    required=required, max_length=max_length, correct=correct)


def _parse_questions(source: str, key: str, raw: Any, default: tuple[Question, ...]) -> tuple[Question, ...]:
    if raw is None:
        return default
    if not isinstance(raw, list):
        raise StudyFileError(source, key, "must be an array of tables ([[" + key + "]])")
    questions = tuple(_parse_question(source, f"{key}[{i}]", q, comprehension=key == "comprehension")
                      for i, q in enumerate(raw))
    ids = [q.id for q in questions]
    for i, qid in enumerate(ids):
        if qid in ids[:i]:
            raise StudyFileError(source, f"{key}[{i}].id", f"duplicate question id {qid!r}")
    return questions


def _parse_method(source: str, path: str, raw: Any, known: tuple[str, ...]) -> MethodConfig:
    f = _Fields(source, path, raw)
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


def _parse_stimuli(f: _Fields) -> tuple[str | None, tuple[StimulusSpec, ...]]:
    raw = f.get("stimuli", (str, list), what="a folder path or a list of {path, label} tables")
    if isinstance(raw, str):
        if not raw.strip():
            raise f.error("stimuli", "must not be empty")
        return raw, ()
    if not raw:
        raise f.error("stimuli", "the list is empty")
    specs = []
    for i, item in enumerate(raw):
        g = _Fields(f.source, f.where(f"stimuli[{i}]"), item)
        specs.append(StimulusSpec(path=g.text("path"), label=g.text("label")))
        g.finish()
    return None, tuple(specs)


def _parse_task(source: str, path: str, raw: Any) -> TaskConfig:
    f = _Fields(source, path, raw)
    name = f.text("name")
    if not _SLUG.match(name):
        raise f.error("name", f"{name!r} must be letters, digits, - and _ (max 64)")
    protocol = f.text("protocol")
    if protocol not in PROTOCOLS:
        raise f.error("protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
    checkpoint = f.text("checkpoint")
    stimuli_dir, stimuli_list = _parse_stimuli(f)
    trials = f.positive_int("trials")
    learning = f.positive_int("learning_trials", 0, minimum=0)
    if protocol == FORWARD_SIMULATION and learning == 0:
        raise f.error("learning_trials", "forward_simulation needs at least one learning trial")
    if protocol != FORWARD_SIMULATION and "learning_trials" in f.table:
        raise f.error("learning_trials", "only applies to protocol forward_simulation")
    k = f.positive_int("k", 2, minimum=2)
    if protocol != DISTINCTION and "k" in f.table:
        raise f.error("k", "only applies to protocol distinction")
    display = f.text("display", "single")
    if display not in ("single", "side_by_side"):
        raise f.error("display", f"{display!r} is not 'single' or 'side_by_side'")
    if protocol != RATE and display != "single":
        raise f.error("display", "side_by_side only applies to protocol rate")
    checks = f.positive_int("attention_checks", 0, minimum=0)
    scale = f.get("scale", list, [1, 7])
    if len(scale) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale) or scale[0] >= scale[1]:
        raise f.error("scale", f"must be [low, high] integers with low < high, got {scale!r}")
    show_true = f.get("show_true_label", bool, False)
    clinical = f.get("clinical_notice", bool, None)
    decision = parse_decision(f, protocol, trials)
    f.finish()
    return TaskConfig(name=name, protocol=protocol, checkpoint=checkpoint, stimuli_dir=stimuli_dir,
                      stimuli_list=stimuli_list, trials=trials, learning_trials=learning, k=k, display=display,
                      attention_checks=checks, scale=(scale[0], scale[1]), show_true_label=show_true,
                      clinical_notice=clinical, decision=decision)


def parse_study(data: dict, source: str, *, consent: str | None = None, instructions: str | None = None) -> Study:
    """Build a :class:`Study` from parsed TOML, raising :class:`StudyFileError` naming the bad field.

    Args:
        data: The TOML document as a dict.
        source: File name used in error messages.
        consent: Consent text read from ``consent_file`` by the loader (overrides ``study.consent``).
        instructions: Likewise for ``instructions_file``.
    """
    top = _Fields(source, "", data)
    s = _Fields(source, "study", top.get("study", dict))
    sid = s.text("id")
    if not _SLUG.match(sid):
        raise s.error("id", f"{sid!r} must be letters, digits, - and _ (max 64)")
    title = s.text("title")
    seed = s.get("seed", int, 0)
    code = s.text("completion_code")
    redirect = s.text("redirect_url", None)
    if redirect is not None and not redirect.startswith(("https://", "http://")):
        raise s.error("redirect_url", "must start with https:// or http://")
    screened_code = s.text("screened_out_code", None)
    no_consent_code = s.text("no_consent_code", None)
    redirect_seconds = s.get("redirect_seconds", (int, float), 5)
    if not 0 <= redirect_seconds <= 600:
        raise s.error("redirect_seconds", "must be between 0 and 600 seconds")
    min_width = s.get("min_viewport_width", int, None)
    if min_width is not None and not 200 <= min_width <= 4000:
        raise s.error("min_viewport_width", "must be a width in pixels between 200 and 4000")
    device = DeviceGate(min_viewport_width=min_width, allow_phones=s.get("allow_phones", bool, True))
    screen_out_after = s.get("screen_out_after", int, None)
    if screen_out_after is not None and screen_out_after < 1:
        raise s.error("screen_out_after", "must be a positive number of failed checks (attention checks and "
                                          "comprehension questions)")
    retries = s.get("comprehension_retries", int, 0)
    if not 0 <= retries <= 3:
        raise s.error("comprehension_retries", f"must be 0, 1, 2 or 3, got {retries}")
    min_trial_seconds = s.get("min_trial_seconds", (int, float), None)
    if min_trial_seconds is not None and not 0 < min_trial_seconds <= 600:
        raise s.error("min_trial_seconds", "must be a number of seconds between 0 and 600")
    language = s.text("language", DEFAULT_LANGUAGE)
    if language not in available_languages():
        raise s.error("language", f"{language!r} is not an available language (available: "
                                  f"{', '.join(available_languages())})")
    _ = translator(language).gettext
    s.get("consent_file", str, None)
    s.get("instructions_file", str, None)
    consent_text = consent if consent is not None else s.text("consent", None)
    if consent_text is None:
        raise s.error("consent", "is required (or consent_file)")
    instructions_text = instructions if instructions is not None else s.text("instructions", None)
    if instructions_text is None:
        raise s.error("instructions", "is required (or instructions_file)")
    keep = s.get("keep_external_ids", bool, False)
    timeout = s.get("inactive_timeout_minutes", (int, float), 30)
    if timeout <= 0:
        raise s.error("inactive_timeout_minutes", "must be positive")
    blind = s.get("blind_method_names", bool, False)
    cache = s.text("cache", None)
    s.finish()

    d = _Fields(source, "design", top.get("design", dict))
    dtype = d.text("type")
    if dtype not in ("within", "between"):
        raise d.error("type", f"{dtype!r} is not 'within' or 'between'")
    control = d.get("control", bool, False)
    negative = d.text("negative_control", None)
    d.finish()

    raw_methods = top.get("methods", list, what="an array of tables ([[methods]])")
    if not raw_methods:
        raise StudyFileError(source, "methods", "at least one method is required")
    known = known_method_names()
    methods = [_parse_method(source, f"methods[{i}]", m, known) for i, m in enumerate(raw_methods)]
    for i, m in enumerate(methods):
        if any(m.key == o.key for o in methods[:i]):
            raise StudyFileError(source, f"methods[{i}].key", f"duplicate method key {m.key!r}")
    if negative is not None:
        base = next((m for m in methods if m.key == negative), None)
        if base is None:
            raise d.error("negative_control", f"{negative!r} is not a method key ({', '.join(m.key for m in methods)})")
        methods.append(MethodConfig(key=f"{base.key}@random", name=base.name,
                                    label=_("{label} (random model)").format(label=base.label),
                                    params=dict(base.params), randomized_model=True))
    if blind:
        methods = [MethodConfig(key=m.key, name=m.name, label=_("Explanation {letter}").format(letter=chr(65 + i)),
                                params=m.params, randomized_model=m.randomized_model) for i, m in enumerate(methods)]

    raw_tasks = top.get("tasks", list, what="an array of tables ([[tasks]])")
    if not raw_tasks:
        raise StudyFileError(source, "tasks", "at least one task is required")
    tasks = tuple(_parse_task(source, f"tasks[{i}]", t) for i, t in enumerate(raw_tasks))
    for i, t in enumerate(tasks):
        if any(t.name == o.name for o in tasks[:i]):
            raise StudyFileError(source, f"tasks[{i}].name", f"duplicate task name {t.name!r}")
        if t.display == "side_by_side" and dtype == "within" and control:
            raise StudyFileError(source, f"tasks[{i}].display",
                                 "side_by_side shows every method on every trial, so design.control cannot "
                                 "rotate in; use display = 'single' or a between design")
    check_decision_arms(source, tasks, [m.key for m in methods])

    pre = _parse_questions(source, "pre_questionnaire", top.get("pre_questionnaire", list, None),
                           default_pre_questionnaire(_))
    post = _parse_questions(source, "post_questionnaire", top.get("post_questionnaire", list, None), ())
    comprehension = _parse_questions(source, "comprehension", top.get("comprehension", list, None), ())
    if retries and not comprehension:
        raise s.error("comprehension_retries", "needs [[comprehension]] questions to retry")
    top.finish()
    return Study(id=sid, title=title, seed=seed, completion_code=code, redirect_url=redirect,
                 consent=consent_text, instructions=instructions_text, keep_external_ids=keep,
                 inactive_timeout_minutes=float(timeout), blind_method_names=blind,
                 design=Design(type=dtype, control=control, negative_control=negative), methods=tuple(methods),
                 tasks=tasks, pre_questionnaire=pre, post_questionnaire=post, source=source, cache_dir=cache,
                 screened_out_code=screened_code, no_consent_code=no_consent_code,
                 redirect_seconds=float(redirect_seconds), device=device, screen_out_after=screen_out_after,
                 min_trial_seconds=None if min_trial_seconds is None else float(min_trial_seconds), language=language,
                 comprehension=comprehension, comprehension_retries=retries)
