"""Protocols are plug-ins: nothing outside ``study_app/study/protocols/`` branches on a protocol's name, and a new
protocol is one module plus one registry line (and its form in the UI's table), as ARCHITECTURE.md's recipe says."""

from __future__ import annotations

import ast
import random
from pathlib import Path

import pytest

from study.kit import answer_for, write_study
from study_app.i18n import N_
from study_app.study import StudyEngine, load_study
from study_app.study.protocols import PROTOCOLS, Protocol
from study_app.study.steps import PHASE_MAIN

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "study_app"
PLUGINS = PACKAGE / "study" / "protocols"
NAMES = set(PROTOCOLS)
CONSTANTS = {"RATE", "VERIFICATION", "FORWARD_SIMULATION", "DISTINCTION", "DECISION"}


def _mentions_protocol(node: ast.AST) -> bool:
    """Whether an expression reads a protocol: ``x.protocol``, ``protocol``, ``x["protocol"]``, ``x.get("protocol")``."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Attribute) and sub.attr == "protocol":
            return True
        if isinstance(sub, ast.Name) and sub.id == "protocol":
            return True
        if isinstance(sub, ast.Subscript) and isinstance(sub.slice, ast.Constant) and sub.slice.value == "protocol":
            return True
        if (isinstance(sub, ast.Call) and isinstance(sub.func, ast.Attribute) and sub.func.attr == "get"
                and sub.args and isinstance(sub.args[0], ast.Constant) and sub.args[0].value == "protocol"):
            return True
    return False


def _constant(node: ast.AST) -> bool:
    """A protocol constant (``RATE``), or a protocol's name written out, or a collection of them."""
    if isinstance(node, ast.Name) and node.id in CONSTANTS:
        return True
    if isinstance(node, ast.Constant) and node.value in NAMES:
        return True
    return isinstance(node, (ast.Tuple, ast.List, ast.Set)) and any(_constant(e) for e in node.elts)


def _is_branch(node: ast.AST) -> bool:
    """A comparison of a protocol with a particular protocol (a constant anywhere, or a read protocol compared with
    a protocol's name); comparing with the registry (``name in PROTOCOLS``) asks the plug-ins and is fine."""
    if not (isinstance(node, ast.Compare) and any(isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn))
                                                  for op in node.ops)):
        return False
    sides = [node.left, *node.comparators]
    named = [s for s in sides if isinstance(s, ast.Name) and s.id in CONSTANTS]
    return bool(named) or (any(_mentions_protocol(s) for s in sides) and any(_constant(s) for s in sides))


def protocol_branches() -> list[str]:
    """``file:line`` of every comparison with a particular protocol outside the protocols package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if PLUGINS in path.parents:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        found += [f"{path.relative_to(ROOT)}:{node.lineno}" for node in ast.walk(tree) if _is_branch(node)]
    return found


def test_no_protocol_branch_outside_the_protocols_package():
    assert protocol_branches() == []


def test_the_counter_finds_a_branch(tmp_path, monkeypatch):
    """The counter itself can fail: it sees the usual shapes of a protocol branch."""
    source = ('if trial.protocol == RATE: pass\nif spec["protocol"] in ("decision", "verification"): pass\n'
              'if t.get("protocol") != "rate": pass\nif x == 1: pass\n')
    source += 'if name in PROTOCOLS: pass\nif path.stem in ("rate", "x"): pass\nif df["protocol"].astype(str) == "rate": pass\n'
    hits = sorted(n.lineno for n in ast.walk(ast.parse(source)) if _is_branch(n))
    assert hits == [1, 2, 3, 7]


class Guess(Protocol):
    """A toy protocol added the way ARCHITECTURE.md says: guess the image's true class, with the maps shown."""

    name = "guess"
    prompts = {PHASE_MAIN: N_("What does this image show?")}
    fields = ("hint",)
    class_answers = ("choice",)

    def parse_fields(self, f, trials):
        f.get("hint", bool, False)  # read (and checked) like any field
        return {}

    def phases(self, ctx, image_id, group, arms):
        options = tuple(ctx.task.class_names)
        return [ctx.step(image_id, arms, group, PHASE_MAIN, ctx.model(image_id).trimmed(1), ctx.maps(image_id, arms),
                         options)]

    def score(self, step, answer):
        return answer["choice"] == step.true_label


@pytest.fixture
def guess_registered(monkeypatch):
    monkeypatch.setitem(PROTOCOLS, "guess", Guess())  # the recipe's one registry line


def test_a_toy_protocol_runs_through_the_recipe_alone(guess_registered, tmp_path, checkpoint_dir, stimuli_dir,
                                                      sqlite_repo, clock):
    path = write_study(tmp_path, "guess", checkpoint=checkpoint_dir, stimuli=stimuli_dir, trials=4, checks=1,
                       extra="hint = true")
    study = load_study(path)
    engine = StudyEngine(study, sqlite_repo, clock=clock)
    token = engine.start_or_resume(None)
    step, rng, trials = engine.current_step(token), random.Random(3), []
    while step.kind != "done":
        if step.kind == "trial":
            trials.append(step.trial)
            assert step.trial.prompt == "What does this image show?" and step.trial.options == ("cat", "dog")
            answer = {"choice": "cat"} if not step.trial.is_attention_check else {
                "choice": next(o for o in step.trial.options if o in step.trial.attention_prompt)}
        else:
            answer = answer_for(step, rng)
        step = engine.submit(token, step.step_id, answer)
    assert len(trials) == 5 and sum(t.is_attention_check for t in trials) == 1
    assert any(t.methods for t in trials)  # the maps of the arms, planned like every protocol's


def test_a_field_of_another_protocol_is_refused_and_names_it(guess_registered, tmp_path, checkpoint_dir, stimuli_dir):
    from study_app.study.errors import StudyFileError, StudyFileErrors

    path = write_study(tmp_path, "verification", checkpoint=checkpoint_dir, stimuli=stimuli_dir, extra="hint = true")
    with pytest.raises((StudyFileError, StudyFileErrors), match="hint.*only applies to protocol guess"):
        load_study(path)
