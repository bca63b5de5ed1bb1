"""The study file parsed into :mod:`study_app.study.schema`'s dataclasses, every field checked with its path.

A researcher edits the file by hand, so a mistake must come back as ``study.toml: tasks[1].trials: must be
a positive integer`` rather than a ``KeyError`` three calls later. Parsing here is pure (no file system
access but the message catalogues, :mod:`study_app.i18n`); :mod:`study_app.study.loader` reads the file, resolves paths and checks images and checkpoints.
Method names and parameters are checked against the explanation registry, the one list of methods.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from study_app.explain.colours import DEFAULT_MAP_COLOURS, MAP_COLOURS
from study_app.i18n import DEFAULT_LANGUAGE, available_languages, translator
from study_app.study.decision import check_decision_arms, check_placebo_kinds
from study_app.study.design import condition_labels
from study_app.study.device_gate import DeviceGate
from study_app.study.errors import StudyFileError, StudyFileErrors
from study_app.study.fields import Fields, Problems
from study_app.study.hive import check_hive
from study_app.study.instruments.entry import parse_instrument_entry
from study_app.study.instruments.model import PER_ARM
from study_app.study.method_fields import (
    check_task_methods,
    parse_methods,
    parse_task_methods,
)
from study_app.study.per_arm_rules import check_per_arm
from study_app.study.protocols import PROTOCOLS, Protocol
from study_app.study.recruitment import parse_recruitment, unknown_caps
from study_app.study.schema import (
    Design,
    StimulusSpec,
    Study,
    TaskConfig,
    default_pre_questionnaire,
)
from study_app.study.steps import Question

QUESTION_KINDS = ("choice", "likert", "text", "number", "rank")
_SLUG = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_@.-]{0,63}$")


def _parse_question(source: str, path: str, raw: Any, *, comprehension: bool = False) -> Question:
    f = Fields(source, path, raw)
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


def _parse_questions(source: str, key: str, raw: Any, default: tuple[Question, ...],
                     problems: Problems, gettext: Callable[[str], str] = lambda s: s,
                     per_arm: list[tuple[str, Question]] | None = None) -> tuple[Question, ...]:
    """A questionnaire's items; an entry naming an ``instrument`` stands for all of that scale's items, its
    text in ``gettext``'s language (the study's translator). The items of a ``placement = "per_arm"`` entry go
    to ``per_arm`` as ``(the entry's path, item)`` instead (asked after each arm's block)."""
    if raw is None:
        return default
    if not isinstance(raw, list):
        problems.add(StudyFileError(source, key, "must be an array of tables ([[" + key + "]])"))
        return ()
    read: list[tuple[str, Question | None]] = []  # (the entry's path, a question it gave)
    arm_items: list[tuple[str, Question]] = []
    for i, q in enumerate(raw):
        if isinstance(q, dict) and "instrument" in q:
            placement, items = problems.read(parse_instrument_entry, source, f"{key}[{i}]", q, key, gettext) or ("", ())
            (arm_items if placement == PER_ARM else read).extend((f"{key}[{i}].id_prefix", iq) for iq in items)
        else:
            read.append((f"{key}[{i}].id", problems.read(_parse_question, source, f"{key}[{i}]", q,
                                                         comprehension=key == "comprehension")))
    seen: set[str] = set()
    for where, q in [*read, *arm_items]:
        if q is not None and q.id in seen:
            problems.add(StudyFileError(source, where, f"duplicate question id {q.id!r}"))
        seen |= {q.id} if q is not None else set()
    if per_arm is not None:
        per_arm.extend(arm_items)
    return tuple(q for _, q in read if q is not None)


def _parse_stimuli(f: Fields) -> tuple[str | None, tuple[StimulusSpec, ...]]:
    raw = f.get("stimuli", (str, list), what="a folder path or a list of {path, label} tables")
    if isinstance(raw, str):
        if not raw.strip():
            raise f.error("stimuli", "must not be empty")
        return raw, ()
    if not raw:
        raise f.error("stimuli", "the list is empty")
    specs = []
    for i, item in enumerate(raw):
        g = Fields(f.source, f.where(f"stimuli[{i}]"), item)
        specs.append(StimulusSpec(path=g.text("path"), label=g.text("label")))
        g.finish()
    return None, tuple(specs)


def _parse_task(source: str, path: str, raw: Any) -> TaskConfig:
    f = Fields(source, path, raw)
    name = f.text("name")
    if not _SLUG.match(name):
        raise f.error("name", f"{name!r} must be letters, digits, - and _ (max 64)")
    protocol = f.text("protocol")
    if protocol not in PROTOCOLS:
        raise f.error("protocol", f"{protocol!r} is not one of {', '.join(PROTOCOLS)}")
    plugin = PROTOCOLS[protocol]
    checkpoint = f.text("checkpoint")
    stimuli_dir, stimuli_list = _parse_stimuli(f)
    trials = f.positive_int("trials")
    _refuse_foreign_fields(f, plugin)
    own = plugin.parse_fields(f, trials)
    display = f.text("display", "single")
    if display not in ("single", "side_by_side"):
        raise f.error("display", f"{display!r} is not 'single' or 'side_by_side'")
    if display not in plugin.displays:
        able = [p.name for p in PROTOCOLS.values() if display in p.displays]
        raise f.error("display", f"{display} only applies to protocol {' or '.join(able)}")
    checks = f.positive_int("attention_checks", 0, minimum=0)
    scale = f.get("scale", list, [1, 7])
    if len(scale) != 2 or not all(isinstance(v, int) and not isinstance(v, bool) for v in scale) or scale[0] >= scale[1]:
        raise f.error("scale", f"must be [low, high] integers with low < high, got {scale!r}")
    show_true = f.get("show_true_label", bool, False)
    clinical = f.get("clinical_notice", bool, None)
    class_labels = _parse_class_labels(f)
    methods = parse_task_methods(f, own)
    f.finish()
    return TaskConfig(name=name, protocol=protocol, checkpoint=checkpoint, stimuli_dir=stimuli_dir,
                      stimuli_list=stimuli_list, trials=trials, display=display, attention_checks=checks,
                      scale=(scale[0], scale[1]), show_true_label=show_true, clinical_notice=clinical,
                      class_labels=class_labels, methods=methods, **own)


def _refuse_foreign_fields(f: Fields, protocol: Protocol) -> None:
    """A field that only another protocol takes is a mistake worth naming (e.g. ``k`` on a verification task)."""
    for other in PROTOCOLS.values():
        for key in other.fields:
            if key in f.table and key not in protocol.fields:
                raise f.error(key, f"only applies to protocol {other.name}")


def _parse_class_labels(f: Fields) -> dict[str, str]:
    """``class_labels``: class name -> the text participants read (checked against the model's classes by the
    loader, which knows them)."""
    raw = f.get("class_labels", dict, {})
    for key, value in raw.items():
        if not isinstance(value, str) or not value.strip():
            raise f.error("class_labels", f"{key!r}: must be non-empty text (what participants read for the class)")
    labels = {str(k): v.strip() for k, v in raw.items()}
    seen: dict[str, str] = {}
    for key, value in labels.items():
        if value in seen:
            raise f.error("class_labels", f"{key!r} and {seen[value]!r} both read {value!r}: participants could "
                                          "not tell them apart")
        seen[value] = key
    return labels


def parse_study(data: dict, source: str, *, consent: str | None = None, instructions: str | None = None) -> Study:
    """Build a :class:`Study` from parsed TOML, raising :class:`StudyFileError` naming the bad field, or
    :class:`StudyFileErrors` naming every bad table at once.

    Args:
        data: The TOML document as a dict.
        source: File name used in error messages.
        consent: Consent text read from ``consent_file`` by the loader (overrides ``study.consent``).
        instructions: Likewise for ``instructions_file``.
    """
    problems = Problems()
    top = Fields(source, "", data)
    settings = problems.read(lambda: _parse_study_table(Fields(source, "study", top.get("study", dict)),
                                                        consent, instructions))
    design = problems.read(lambda: _parse_design(Fields(source, "design", top.get("design", dict))))
    language = settings["language"] if settings else DEFAULT_LANGUAGE
    methods = parse_methods(source, problems.read(top.get, "methods", list, what="an array of tables ([[methods]])"),
                             design, bool(settings and settings["blind_method_names"]), translator(language).gettext,
                             problems)
    tasks = _parse_tasks(source, problems.read(top.get, "tasks", list, what="an array of tables ([[tasks]])"),
                         design, problems)
    if methods is not None and tasks:
        problems.read(check_decision_arms, source, tasks, [m.key for m in methods])
        problems.read(check_placebo_kinds, source, tasks, methods)
        problems.read(check_task_methods, source, tasks, [m.key for m in methods])
    gettext = translator(language).gettext  # defaults and instruments' items in the study's language
    pre = _parse_questions(source, "pre_questionnaire", problems.read(top.get, "pre_questionnaire", list, None),
                           default_pre_questionnaire(gettext), problems, gettext)
    arm_items: list[tuple[str, Question]] = []
    post = _parse_questions(source, "post_questionnaire", problems.read(top.get, "post_questionnaire", list, None),
                            (), problems, gettext, arm_items)
    comprehension = _parse_questions(source, "comprehension", problems.read(top.get, "comprehension", list, None),
                                     (), problems)
    if settings and settings["comprehension_retries"] and not data.get("comprehension"):
        problems.add(StudyFileError(source, "study.comprehension_retries", "needs [[comprehension]] questions to retry"))
    recruitment = problems.read(lambda: parse_recruitment(Fields(source, "recruitment", top.get("recruitment", dict, {}))))
    problems.read(top.finish)
    StudyFileErrors.raise_if_any(problems.errors)
    study = Study(**settings, design=design, methods=tuple(methods), tasks=tuple(tasks), pre_questionnaire=pre,
                  post_questionnaire=post, comprehension=comprehension, source=source, recruitment=recruitment,
                  arm_questionnaire=tuple(q for _, q in arm_items))
    check_per_arm(study, arm_items[0][0].removesuffix(".id_prefix") + ".placement" if arm_items else "")
    check_hive(study)
    StudyFileErrors.raise_if_any(unknown_caps(recruitment, condition_labels(study), source))
    return study


def _parse_study_table(s: Fields, consent: str | None, instructions: str | None) -> dict[str, Any]:
    """The ``[study]`` table as :class:`Study` keyword arguments."""
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
    s.get("consent_file", str, None)
    s.get("instructions_file", str, None)
    consent_text = consent if consent is not None else s.text("consent", None)
    if consent_text is None:
        raise s.error("consent", "is required (or consent_file)")
    instructions_text = instructions if instructions is not None else s.text("instructions", None)
    if instructions_text is None:
        raise s.error("instructions", "is required (or instructions_file)")
    keep = s.get("keep_external_ids", bool, False)
    require_pid = s.get("require_prolific_id", bool, False)
    hive_sequence = s.get("hive_sequence", bool, False)  # study.hive: rate understanding, task, reveal, rate again
    timeout = s.get("inactive_timeout_minutes", (int, float), 30)
    if timeout <= 0:
        raise s.error("inactive_timeout_minutes", "must be positive")
    blind = s.get("blind_method_names", bool, False)
    colours = s.text("map_colours", DEFAULT_MAP_COLOURS)  # changes what participants see: exported per map
    if colours not in MAP_COLOURS:
        raise s.error("map_colours", f"{colours!r} is not a map colour scheme (available: {', '.join(MAP_COLOURS)})")
    cache = s.text("cache", None)
    s.finish()
    return dict(id=sid, title=title, seed=seed, completion_code=code, redirect_url=redirect, consent=consent_text,
                instructions=instructions_text, keep_external_ids=keep, inactive_timeout_minutes=float(timeout),
                blind_method_names=blind, cache_dir=cache, screened_out_code=screened_code,
                no_consent_code=no_consent_code, redirect_seconds=float(redirect_seconds), device=device,
                screen_out_after=screen_out_after, language=language, comprehension_retries=retries,
                require_prolific_id=require_pid, hive_sequence=hive_sequence, map_colours=colours,
                min_trial_seconds=None if min_trial_seconds is None else float(min_trial_seconds))


def _parse_design(d: Fields) -> Design:
    dtype = d.text("type")
    if dtype not in ("within", "between"):
        raise d.error("type", f"{dtype!r} is not 'within' or 'between'")
    control = d.get("control", bool, False)
    negative = d.text("negative_control", None)
    d.finish()
    return Design(type=dtype, control=control, negative_control=negative)


def _parse_tasks(source: str, raw: list | None, design: Design | None, problems: Problems) -> list[TaskConfig]:
    if raw is None:
        return []
    if not raw:
        problems.add(StudyFileError(source, "tasks", "at least one task is required"))
        return []
    read = [problems.read(_parse_task, source, f"tasks[{i}]", t) for i, t in enumerate(raw)]
    for i, t in enumerate(read):
        if t is None:
            continue
        if any(o is not None and t.name == o.name for o in read[:i]):
            problems.add(StudyFileError(source, f"tasks[{i}].name", f"duplicate task name {t.name!r}"))
        if design is not None and t.display == "side_by_side" and design.type == "within" and design.control:
            problems.add(StudyFileError(source, f"tasks[{i}].display",
                                        "side_by_side shows every method on every trial, so design.control cannot "
                                        "rotate in; use display = 'single' or a between design"))
    return [t for t in read if t is not None]
