"""The house rules of ARCHITECTURE.md, checked on the source: data flows one way, Streamlit stays in the UI,
modules stay small, imports sit at the top, and nothing sets the environment to pass a setting along."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "study_app"

# trainers -> explain -> study/store -> (maps, analysis, settings, readiness, serve) -> ui -> app_pages/main
LAYERS = {
    "trainers": 0,
    "study_app.explain": 1,
    "study_app.i18n": 1,  # participant-facing text catalogues: imports nothing of the project
    "study_app.study": 2,
    "study_app.store": 2,
    "study_app.maps": 3,
    "study_app.analysis": 3,
    "study_app.settings": 3,
    "study_app.readiness": 3,
    "study_app.serve": 3,
    "study_app.admin": 3,  # the operator's database commands (db, backup, restore, researcher)
    "study_app.ui": 4,
    "study_app.app_pages": 5,
    "study_app.main": 5,
    "study_app.cli": 6,  # dispatches by module name (importlib), imports nothing of the project itself
}
STREAMLIT_ALLOWED = ("study_app.ui", "study_app.app_pages", "study_app.main")
MAX_LINES = 400
IMPORT_REASONS = ("cycle", "heavy", "optional", "defer")


def _modules() -> list[tuple[str, Path]]:
    out = []
    for path in sorted([*PACKAGE.rglob("*.py"), *(ROOT / "trainers").rglob("*.py")]):
        if "migrations" in path.parts:
            continue
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        out.append((name, path))
    return out


def _layer(module: str) -> int | None:
    if module == "study_app":  # the package's own __init__: imports nothing of the project
        return 0
    best = None
    for prefix, layer in LAYERS.items():
        if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > len(best[0])):
            best = (prefix, layer)
    return None if best is None else best[1]


def _imports(tree: ast.AST) -> list[tuple[ast.stmt, str, bool]]:
    """``(node, imported module, inside a function)`` for every import."""
    found = []

    def visit(node, in_function):
        for child in ast.iter_child_nodes(node):
            inner = in_function or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef))
            if isinstance(child, ast.Import):
                found.extend((child, alias.name, in_function) for alias in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                found.append((child, child.module, in_function))
            visit(child, inner)

    visit(tree, False)
    return found


MODULES = _modules()


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_imports_follow_the_flow(name, path):
    own = _layer(name)
    assert own is not None, f"{name}: not placed in a layer (add it to LAYERS and to ARCHITECTURE.md)"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    against = [f"line {node.lineno}: {target}" for node, target, _ in _imports(tree)
               if _layer(target) is not None and _layer(target) > own]
    assert not against, f"{name} (layer {own}) imports up the flow: {against}"


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_streamlit_only_in_the_ui_pages_and_router(name, path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    uses = [node.lineno for node, target, _ in _imports(tree) if target.split(".")[0] == "streamlit"]
    if not name.startswith(STREAMLIT_ALLOWED):
        assert not uses, f"{name} imports streamlit (lines {uses})"


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_every_module_is_under_400_lines(name, path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines < MAX_LINES, f"{name}: {lines} lines; split it by what it holds"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in MODULES if n.startswith("study_app")],
                         ids=[n for n, _ in MODULES if n.startswith("study_app")])
def test_imports_inside_functions_say_why(name, path):
    """Only to break a real cycle or to defer a heavy optional import, and the line says which."""
    source = path.read_text(encoding="utf-8").splitlines()
    tree = ast.parse("\n".join(source))
    unexplained = [f"line {node.lineno}: {source[node.lineno - 1].strip()}"
                   for node, _, in_function in _imports(tree)
                   if in_function and not any(w in source[node.lineno - 1].lower() for w in IMPORT_REASONS)]
    assert not unexplained, f"{name}: imports inside functions without a reason: {unexplained}"


@pytest.mark.parametrize("name,path", [(n, p) for n, p in MODULES if n.startswith("study_app")],
                         ids=[n for n, _ in MODULES if n.startswith("study_app")])
def test_no_setting_is_passed_through_the_environment(name, path):
    """Settings are decided once and passed as arguments; writing ``os.environ`` hides who decided."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    writes = [node.lineno for node in ast.walk(tree)
              if isinstance(node, (ast.Assign, ast.AugAssign))
              and any(isinstance(t, ast.Subscript) and ast.unparse(t.value) == "os.environ"
                      for t in (node.targets if isinstance(node, ast.Assign) else [node.target]))]
    calls = [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Call)
             and ast.unparse(node.func) in ("os.environ.setdefault", "os.environ.update", "os.putenv")]
    assert not writes + calls, f"{name} writes os.environ (lines {writes + calls})"


def test_the_rules_can_fail():
    """The checks see what they look for (an honest test must be able to fail)."""
    tree = ast.parse("import os\ndef f():\n    from study_app.ui import resources\n    os.environ['X'] = '1'\n")
    (node, target, in_function), *_ = [i for i in _imports(tree) if i[1].startswith("study_app")]
    assert target == "study_app.ui" and in_function and _layer(target) > _layer("study_app.study.engine")
    assert _layer("study_app.maps.service") == 3 and _layer("trainers.checkpoint") == 0


DEPRECATED_STREAMLIT = ("use_container_width",)  # removed after 2025-12-31: width="stretch" / "content"


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_no_streamlit_argument_past_its_removal_date(name, path):
    text = path.read_text(encoding="utf-8")
    used = [arg for arg in DEPRECATED_STREAMLIT if f"{arg}=" in text]
    assert not used, f"{name} passes {used}: Streamlit's deprecation notice gave a removal date that has passed"
