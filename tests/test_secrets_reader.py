"""``secrets.toml`` is read in exactly one place (:mod:`study_app.store.secrets_file`); everything else takes
the resolved value from :func:`study_app.settings.resolve` (issue 23, item 3)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "study_app"
READER = "store/secrets_file.py"
READING = {"read_secrets", "read_secrets_file", "add_secret_once", "secrets_paths"}
# Who may call the reader: the settings (the one resolution), the external-id key (it appends a new key to
# the file under a lock, reading it again there), and ``resolve_db_url`` (for callers not given the settings).
CALLERS = {"settings/__init__.py", "settings/resolve.py", "study/id_key.py", "store/database.py"}


def _trees():
    for path in sorted(PACKAGE.rglob("*.py")):
        if "migrations" not in path.parts:
            yield path.relative_to(PACKAGE).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def test_only_the_reader_names_the_file_and_nobody_reads_st_secrets():
    naming, st_secrets = set(), set()
    for name, tree in _trees():
        for node in ast.walk(tree):
            # a path to the file: an operand of "/" or an argument of a call (Path(...), open(...))
            operands = [node.left, node.right] if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div) \
                else node.args if isinstance(node, ast.Call) else []
            if any(isinstance(o, ast.Constant) and isinstance(o.value, str) and " " not in o.value
                   and o.value.endswith("secrets.toml") for o in operands):
                naming.add(name)
            if isinstance(node, ast.Attribute) and node.attr == "secrets" and \
                    isinstance(node.value, ast.Name) and node.value.id == "st":
                st_secrets.add(name)
    assert naming == {READER}, naming
    assert st_secrets == set()


def test_only_the_settings_and_the_id_key_use_the_reader():
    users = {}
    for name, tree in _trees():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "study_app.store.secrets_file":
                imported = {alias.name for alias in node.names}
                users[name] = imported
                if imported & READING:
                    assert name in CALLERS, f"{name} reads secrets.toml itself: take the value from the settings"
                    # and none of them parses a TOML file on its own
                    assert "tomllib" not in ast.unparse(tree) or name.startswith("settings/"), name
    assert set(users) >= {"settings/resolve.py", "study/id_key.py"}
