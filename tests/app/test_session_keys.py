"""Every ``st.session_state`` key is named in ``study_app.ui.state_keys``: no page or widget module reads or
writes session state under a key spelt out where it is used, or under a key constant of its own."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from study_app.ui import state_keys

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted(p for folder in ("study_app/ui", "study_app/app_pages") for p in (ROOT / folder).rglob("*.py")
                 if p.name != "state_keys.py") + [ROOT / "study_app" / "main.py"]
ACCESSORS = ("get", "pop", "setdefault", "__setitem__")


def _literal_keys(tree: ast.AST) -> list[tuple[int, str]]:
    """``(line, key)`` of every session-state access whose key is a string literal or a name bound in the
    module itself to one (``KEY = "..."``), rather than a name from ``state_keys`` or a computed key."""
    own = {t.id: node.value.value for node in ast.walk(tree) if isinstance(node, ast.Assign)
           and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
           for t in node.targets if isinstance(t, ast.Name)}
    found = []
    for node in ast.walk(tree):
        for key in _keys_used(node):
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                found.append((node.lineno, key.value))
            elif isinstance(key, ast.Name) and key.id in own:
                found.append((node.lineno, f"{key.id} = {own[key.id]!r}"))
    return sorted(found)


def _keys_used(node: ast.AST) -> list[ast.expr]:
    """The key expressions of a session-state access: ``state[k]``, ``state.get(k)`` and the like, and a
    callback ``on_click=state.pop, args=(k, ...)``."""
    def is_state(expr: ast.expr) -> bool:
        return ast.unparse(expr).endswith("session_state")

    if isinstance(node, ast.Subscript) and is_state(node.value):
        return [node.slice]
    if not isinstance(node, ast.Call):
        return []
    if isinstance(node.func, ast.Attribute) and node.func.attr in ACCESSORS and is_state(node.func.value) and node.args:
        return [node.args[0]]
    callbacks = {k.arg: k.value for k in node.keywords}
    callback, args = callbacks.get("on_click") or callbacks.get("on_change"), callbacks.get("args")
    if (isinstance(callback, ast.Attribute) and callback.attr in ACCESSORS and is_state(callback.value)
            and isinstance(args, ast.Tuple) and args.elts):
        return [args.elts[0]]
    return []


@pytest.mark.parametrize("path", SOURCES, ids=[str(p.relative_to(ROOT)) for p in SOURCES])
def test_session_state_keys_come_from_state_keys(path):
    found = _literal_keys(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(ROOT)}: session-state keys outside study_app.ui.state_keys: {found}"


def test_the_rule_sees_literal_and_module_own_keys():
    tree = ast.parse('HANDLED = "h"\nst.session_state["a"] = 1\nst.session_state.get("b")\n'
                     "st.session_state.pop(HANDLED, None)\nst.session_state[state_keys.FLASH] = 2\n"
                     "st.session_state.get(widget_key('s', 'q'))\n"
                     "st.button('x', on_click=st.session_state.__setitem__, args=('c', True))\n")
    assert _literal_keys(tree) == [(2, "a"), (3, "b"), (4, "HANDLED = 'h'"), (7, "c")]


def test_state_keys_are_distinct():
    """Two names for one key would let two features overwrite each other's state."""
    keys = {name: value for name, value in vars(state_keys).items()
            if name.isupper() and isinstance(value, str) and not name.endswith("_PARAM")}
    assert len(set(keys.values())) == len(keys), keys
