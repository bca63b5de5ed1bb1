"""Every text a browser can send gets a clear answer (property-based, with hypothesis).

Over every question kind and every protocol's trial phases: arbitrary Unicode (lone surrogates, NUL,
right-to-left marks, 100 000 characters), wrong types, missing and extra keys. Either the answer is stored
exactly as sent after the documented normalisation (``study_app.study.answers``), or ``AnswerError`` names
the field, and nothing else ever escapes. What is stored comes back out of the CSV export unchanged (but
for the documented apostrophe in front of formula-like text).
"""

from __future__ import annotations

import csv
import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from study.kit import answer_for
from study_app.export import FORMULA_PREFIXES, export_study
from study_app.store.records import canonical_json
from study_app.study import AnswerError
from study_app.study.answers import answer_sha256, validate_questionnaire, validate_trial
from study_app.study.plan import Plan, TrialStep
from study_app.study.steps import EFFECT_OPTIONS, Question

PROTOCOLS = ["rate", "forward_simulation", "verification", "distinction", "decision"]
FEW = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENGINE_RUNS = settings(max_examples=25, deadline=None,
                       suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

NASTY = ["\ud800", "a\udfffb", "\x00", "before\x00after", "\u202eevil\u202c", "مرحبا שלום", "=HYPERLINK(1)",
         "-1", "\r\nline", "👨‍👩‍👧", ""]
LONG = st.sampled_from([10_000, 10_001, 100_000]).map(lambda n: "x" * n)  # at, over and far over the limit
text = st.one_of(st.text(st.characters(exclude_categories=()), max_size=30), st.sampled_from(NASTY), LONG)
anything = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), text),
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(text, inner, max_size=3)),
    max_leaves=6,
)

POST = """
[[post_questionnaire]]
id = "thoughts"
text = "Anything else?"
kind = "text"
required = false

[[post_questionnaire]]
id = "order"
text = "Rank them"
kind = "rank"
options = ["first", "second", "third"]

[[post_questionnaire]]
id = "hours"
text = "Hours per week"
kind = "number"
low = 0
high = 80
"""
QUESTIONS = (
    Question("pick", "Pick", "choice", options=("a", "b")),
    Question("scale", "Scale", "likert", low=1, high=5),
    Question("count", "Count", "number", low=0, high=120),
    Question("free", "Free", "text", required=False),
    Question("order", "Order", "rank", options=("x", "y", "z")),
)


def assert_clear(err: AnswerError) -> None:
    """The refusal can be shown anywhere: its field and message are valid, short-ish text."""
    assert isinstance(err.field, str)
    err.field.encode("utf-8")
    str(err).encode("utf-8")
    assert len(str(err)) < 400


def expected_clean(answer: dict) -> dict:
    """The documented normalisation, written out independently of the validators."""
    out = {}
    for key, value in answer.items():
        if value is None or (value == "" and key != "comment"):
            continue  # optional answer not given
        out[key] = list(value) if isinstance(value, tuple) else dict(value) if key == "effect" else value
    return out


def valid_trial_answer(spec: TrialStep):
    low, high = spec.scale
    scale = st.integers(low, high)
    protocol, phase = spec.protocol, spec.phase
    if phase == "learn":
        fields = {}
    elif protocol == "rate" and phase == "trust":
        fields = {"trust": scale}
    elif protocol == "rate":
        fields = {"effect": st.fixed_dictionaries({m.key: st.sampled_from(EFFECT_OPTIONS) for m in spec.maps})}
    elif protocol == "verification":
        fields = {"decision": st.sampled_from(["accept", "reject"]), "confidence": scale}
    elif protocol == "decision":  # phase initial or final
        fields = {phase: st.sampled_from(spec.options), f"confidence_{phase}": scale}
    else:
        fields = {"choice": st.sampled_from(spec.options), "confidence": st.one_of(st.none(), scale)}
    return st.fixed_dictionaries(fields, optional={"comment": text})


def mangled(valid):
    """A valid answer with one thing wrong: a key dropped, a value replaced, a key added; or nonsense."""
    def mangle(pair):
        answer, (how, key, value) = pair
        answer = dict(answer)
        if how == "drop" and answer:
            answer.pop(sorted(answer)[0])
        elif how == "replace" and answer:
            answer[sorted(answer)[0]] = value
        else:
            answer[key] = value
        return answer

    how = st.tuples(st.sampled_from(["drop", "replace", "add"]), text, anything)
    return st.one_of(st.tuples(valid, how).map(mangle), anything, st.dictionaries(text, anything, max_size=3))


@pytest.fixture(scope="module")
def plan_steps(tmp_path_factory, checkpoint_dir, stimuli_dir):
    """One real plan per protocol (every trial phase), from a participant of a scratch study."""
    from study.kit import predictions_for, write_study
    from study_app.store import Repository, make_engine
    from study_app.study import StudyEngine, load_study

    folder = tmp_path_factory.mktemp("plans")
    repo = Repository(make_engine(f"sqlite:///{folder / 'plans.sqlite'}"))
    steps = {}
    for protocol in PROTOCOLS:
        study = load_study(write_study(folder, protocol, checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=2))
        engine = StudyEngine(study, repo, predictions=predictions_for(study))
        token = engine.start_or_resume(None)
        engine.submit(token, "consent", {"agree": True})
        plan = Plan.from_json(json.loads(repo.plans(engine.record.id)[repo.participant_by_token(token).id]))
        steps[protocol] = {s.phase: s for s in plan.trial_steps}
    repo.dispose()
    return steps


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_trial_answers_are_stored_as_sent_or_refused_naming_the_field(protocol, plan_steps):
    for spec in plan_steps[protocol].values():
        property_of(spec)()


def property_of(spec):
    @FEW
    @given(answer=st.one_of(valid_trial_answer(spec), mangled(valid_trial_answer(spec))))
    def check(answer):
        try:
            clean = validate_trial(spec, answer)
            digest = answer_sha256(clean)
        except AnswerError as err:
            assert_clear(err)
            return
        assert clean == expected_clean(answer)
        assert json.loads(canonical_json(clean)) == clean and len(digest) == 64

    return check


def questionnaire_answers():
    valid = st.fixed_dictionaries(
        {"pick": st.sampled_from(["a", "b"]), "scale": st.integers(1, 5),
         "count": st.one_of(st.integers(0, 120), st.floats(0, 120)),
         "order": st.permutations(["x", "y", "z"]).map(tuple)},
        optional={"free": text},
    )
    return st.one_of(valid, mangled(valid))


@FEW
@given(answer=questionnaire_answers())
def test_questionnaire_answers_of_every_kind_are_stored_as_sent_or_refused(answer):
    try:
        clean = validate_questionnaire(QUESTIONS, answer)
        answer_sha256(clean)
    except AnswerError as err:
        assert_clear(err)
        if err.field in {q.id for q in QUESTIONS} or err.field == "":
            return
        assert err.field.encode("utf-8").decode("utf-8") not in {q.id for q in QUESTIONS}  # an extra key
        return
    assert clean == expected_clean(answer)


def test_a_lone_surrogate_in_a_comment_is_an_answer_error_naming_it(plan_steps):
    spec = plan_steps["verification"]["main"]
    with pytest.raises(AnswerError, match="not valid Unicode") as refused:
        validate_trial(spec, {"decision": "accept", "confidence": 1, "comment": "ok \ud800"})
    assert refused.value.field == "comment"
    with pytest.raises(AnswerError, match="not valid Unicode"):
        answer_sha256({"comment": "\ud800"})  # the last line, for any other caller


def _read_back(cell: str, original):
    """Undo what the export documents: formula-like text gets a leading apostrophe; numbers are text."""
    if isinstance(original, str):
        return cell[1:] if original.startswith(FORMULA_PREFIXES) and cell.startswith("'") else cell
    if isinstance(original, bool):
        return {"true": True, "false": False}[cell]
    if isinstance(original, int):
        return int(cell)
    if isinstance(original, float):
        return float(cell)
    return json.loads(cell)


def _walk_to_an_answer_step(engine, rng):
    token = engine.start_or_resume(None)
    step = engine.current_step(token)
    while step.kind in ("consent", "instructions"):
        step = engine.submit(token, step.step_id, answer_for(step, rng))
    return token, step


def _answer_to(step, comment: str, how: tuple | None) -> dict:
    """A valid answer to whatever step the participant is at, carrying the drawn text (as the comment, or
    as every text question's answer), optionally with one thing wrong (``how`` from :func:`mangled`)."""
    answer = answer_for(step, random.Random(0))
    if step.kind == "trial":
        answer["comment"] = comment
    else:
        for q in step.questions:
            if q.kind == "text":
                answer[q.id] = comment
    if how is not None:
        kind, key, value = how
        if kind == "drop" and answer:
            answer.pop(sorted(answer)[0])
        elif kind == "replace" and answer:
            answer[sorted(answer)[0]] = value
        else:
            answer[key] = value
    return answer


# Drawn independently of the step the participant is at, so that hypothesis sees the same shape every time.
ENGINE_DRAWS = st.tuples(text, st.one_of(st.none(), st.tuples(st.sampled_from(["drop", "replace", "add"]), text,
                                                              anything)))


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_the_engine_stores_what_was_sent_and_the_export_round_trips_it(protocol, make_study, make_engine_for,
                                                                       sqlite_repo, tmp_path):
    engine = make_engine_for(make_study(protocol, trials=2, checks=0, tail=POST), sqlite_repo)
    rng = random.Random(1)
    state = {"at": _walk_to_an_answer_step(engine, rng)}
    stored: list[tuple[str, object, dict]] = []  # (token, step, clean answer)

    @ENGINE_RUNS
    @given(drawn=ENGINE_DRAWS)
    def check(drawn):
        token, step = state["at"]
        if step.kind == "done":
            token, step = state["at"] = _walk_to_an_answer_step(engine, rng)
        answer = _answer_to(step, *drawn)
        rows = sqlite_repo.count_rows()
        try:
            following = engine.submit(token, step.step_id, answer)
        except AnswerError as err:
            assert_clear(err)
            assert sqlite_repo.count_rows() == rows  # nothing stored
            assert engine.current_step(token).step_id == step.step_id
            return
        stored.append((token, step, expected_clean(answer)))
        state["at"] = (token, following)

    check()
    assert stored, "no valid answer was drawn"
    export_study(sqlite_repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as fh:
        responses = {(r["participant"], int(r["trial_index"])): r for r in csv.DictReader(fh)}
    with open(tmp_path / "p.csv", encoding="utf-8", newline="") as fh:
        people = {r["participant"]: r for r in csv.DictReader(fh)}
    for token, step, clean in stored:
        who = sqlite_repo.participant_by_token(token).public_id
        if step.kind == "trial":
            row = responses[(who, step.trial.index)]
            for key, value in clean.items():
                if key == "comment":
                    assert _read_back(row[f"comment_{step.trial.phase}"], value) == value
                elif key == "effect":
                    assert {k: row[f"answer_effect_{k}"] for k in value} == value
                else:
                    assert _read_back(row[f"answer_{key}"], value) == value
        else:
            prefix = "pre" if step.kind == "pre_questionnaire" else "post"
            for key, value in clean.items():
                assert _read_back(people[who][f"{prefix}_{key}"], value) == value


@pytest.mark.parametrize("value", ["before\x00after", "\u202eevil\u202c", "x" * 10_000, "=cmd|' /C calc'!A0"])
def test_hostile_text_round_trips_through_either_database_and_the_export(value, make_study, make_engine_for, repo,
                                                                         tmp_path):
    engine = make_engine_for(make_study("verification", trials=2, checks=0, tail=POST), repo)
    token, step = _walk_to_an_answer_step(engine, random.Random(0))
    while step.kind != "done":
        answer = answer_for(step, random.Random(0))
        if step.kind == "trial":
            answer["comment"] = value
        if step.kind == "post_questionnaire":
            answer["thoughts"] = value
        step = engine.submit(token, step.step_id, answer)
    export_study(repo, [engine.record], tmp_path / "r.csv", tmp_path / "p.csv")
    with open(tmp_path / "r.csv", encoding="utf-8", newline="") as fh:
        comments = [r["comment_main"] for r in csv.DictReader(fh)]
    with open(tmp_path / "p.csv", encoding="utf-8", newline="") as fh:
        (person,) = list(csv.DictReader(fh))
    assert [_read_back(c, value) for c in comments] == [value, value]
    assert _read_back(person["post_thoughts"], value) == value
