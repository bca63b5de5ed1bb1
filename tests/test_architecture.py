"""The house rules of ARCHITECTURE.md, checked on the source: data flows one way, Streamlit stays in the UI,
modules stay small, imports sit at the top, and nothing sets the environment to pass a setting along."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "study_app"

# trainers -> explain -> store -> study -> (maps, analysis, settings, readiness, serve, admin) -> export -> ui
# -> app_pages/main
LAYERS = {
    "trainers": 0,
    "study_app.explain": 1,
    "study_app.i18n": 1,  # participant-facing text catalogues: imports nothing of the project
    "study_app.store": 2,  # pure storage: imports nothing of the study, the analysis or the export
    "study_app.study": 3,  # the engine calls the repository
    "study_app.maps": 4,
    "study_app.analysis": 4,
    "study_app.settings": 4,
    "study_app.readiness": 4,
    "study_app.serve": 4,
    "study_app.admin": 4,  # the operator's database commands (db, backup, restore, researcher)
    "study_app.recruit": 4,  # xai-study prolific: Prolific's API, submissions matched with ours, the actions
    "study_app.export": 5,  # reads the store and the plans, hands its rows to the analysis; xai-study export
    "study_app.simulate": 5,  # xai-study simulate: synthetic participants through the engine; reads the export's rows
    "study_app.ui": 6,
    "study_app.app_pages": 7,
    "study_app.main": 7,
    "study_app.cli": 8,  # dispatches by module name (importlib), imports nothing of the project itself
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
    assert _layer("study_app.maps.service") == 4 and _layer("trainers.checkpoint") == 0


def _package(module: str) -> str | None:
    """The entry of LAYERS that ``module`` belongs to (the longest prefix), ``None`` outside the project."""
    owners = [prefix for prefix in LAYERS if module == prefix or module.startswith(prefix + ".")]
    return max(owners, key=len) if owners else None


def _package_graph(sources) -> dict[tuple[str, str], list[str]]:
    """The package-level import graph of ``(module name, source text)`` pairs: ``{(importing package, imported
    package): ["module:line", ...]}`` over every import (at the top or inside a function, relative ones resolved;
    ``from study_app import export`` counts as importing ``study_app.export``). A module outside LAYERS is
    its own node, so it cannot hide an edge."""
    graph: dict[tuple[str, str], list[str]] = {}
    for name, text in sources:
        source = _package(name) or name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolved against the importing module's package
                    parts = name.split(".")[: -node.level]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{alias.name}" if _package(f"{base}.{alias.name}") else base for alias in node.names]
            else:
                continue
            for target in targets:
                package = _package(target)
                if package is not None and package != source:
                    graph.setdefault((source, package), []).append(f"{name}:{node.lineno}")
    return graph


def _against_the_layers(graph) -> list[str]:
    """The edges that import up the layer order (or from a module LAYERS does not place), one line each."""
    return sorted(f"{a} (layer {LAYERS.get(a, '?')}) -> {b} (layer {LAYERS[b]}): {', '.join(dict.fromkeys(where))}"
                  for (a, b), where in graph.items() if a not in LAYERS or LAYERS[b] > LAYERS[a])


STORAGE_MUST_NOT_IMPORT = ("study_app.study", "study_app.analysis", "study_app.export", "study_app.maps")


def test_the_package_graph_has_no_edge_against_the_layer_order():
    graph = _package_graph((name, path.read_text(encoding="utf-8")) for name, path in MODULES)
    assert ("study_app.study", "study_app.store") in graph  # the graph sees real edges (the engine's repository)
    against = _against_the_layers(graph)
    assert not against, f"{len(against)} package import(s) against the layer order:\n" + "\n".join(against)
    up = sorted(f"study_app.store -> {b}: {', '.join(dict.fromkeys(where))}" for (a, b), where in graph.items()
                if a == "study_app.store" and b in STORAGE_MUST_NOT_IMPORT)
    assert not up, "study_app.store is pure storage, yet imports:\n" + "\n".join(up)


def test_the_package_graph_sees_an_edge_against_the_flow():
    """An export inside the store that reads up into the study (what used to be there) is caught, in every form."""
    sources = [("study_app.store.export", "from study_app.study.plan import Plan\n"),
               ("study_app.store.rows", "def f():\n    from study_app import analysis  # defer\n"),
               ("study_app.store.cli", "from ..export import export_cli\n"),
               ("study_app.study.engine", "from study_app.store.repository import Repository\n")]
    graph = _package_graph(sources)
    assert set(graph) == {("study_app.store", "study_app.study"), ("study_app.store", "study_app.analysis"),
                          ("study_app.store", "study_app.export"), ("study_app.study", "study_app.store")}
    assert _against_the_layers(graph) == [
        "study_app.store (layer 2) -> study_app.analysis (layer 4): study_app.store.rows:2",
        "study_app.store (layer 2) -> study_app.export (layer 5): study_app.store.cli:1",
        "study_app.store (layer 2) -> study_app.study (layer 3): study_app.store.export:1"]


DEPRECATED_STREAMLIT = ("use_container_width",)  # removed after 2025-12-31: width="stretch" / "content"


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_no_streamlit_argument_past_its_removal_date(name, path):
    text = path.read_text(encoding="utf-8")
    used = [arg for arg in DEPRECATED_STREAMLIT if f"{arg}=" in text]
    assert not used, f"{name} passes {used}: Streamlit's deprecation notice gave a removal date that has passed"


MAX_FUNCTION_LINES = 80
# Functions allowed past MAX_FUNCTION_LINES, by name, each with the reason its docstring must give.
LONG_FUNCTIONS = {
    # One long loop that reads top to bottom like torchvision's references/classification/train.py, so it can be
    # checked against it step by step; pieces that stand alone (data, model, one epoch) are helpers already.
    ("trainers.train", "main"): "torchvision's reference training script",
}


def _long_functions(tree: ast.AST) -> list[tuple[str, int, int]]:
    """``(qualified name, first line, lines)`` of every function or method longer than the limit, from its
    ``def`` (decorators excluded) to its last line."""
    found = []

    def visit(node, prefix):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef) and child.end_lineno - child.lineno + 1 > MAX_FUNCTION_LINES:
                    found.append((name, child.lineno, child.end_lineno - child.lineno + 1))
                visit(child, name + ".")
            else:
                visit(child, prefix)

    visit(tree, "")
    return found


@pytest.mark.parametrize("name,path", MODULES, ids=[n for n, _ in MODULES])
def test_functions_are_sized_by_what_they_do(name, path):
    """No function or method over 80 lines: a longer one does several things, each of which can be a named
    helper. The exceptions are listed by name with their reason, and say it in their docstring."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    too_long = []
    for function, line, lines in _long_functions(tree):
        reason = LONG_FUNCTIONS.get((name, function))
        if reason is None:
            too_long.append(f"{function} (line {line}): {lines} lines")
            continue
        node = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                    and n.lineno == line)
        assert reason in (ast.get_docstring(node) or ""), f"{name}.{function}: its docstring must say {reason!r}"
    assert not too_long, f"{name}: split by what each part does: {too_long}"


def test_the_function_size_rule_can_fail():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_FUNCTION_LINES))
    tree = ast.parse(f"class A:\n    def short(self):\n        pass\n    def long(self):\n{body.replace('    ', '        ')}\n"
                     f"def f():\n{body}\n")
    assert [(n, lines) for n, _, lines in _long_functions(tree)] == [("A.long", MAX_FUNCTION_LINES + 1),
                                                                    ("f", MAX_FUNCTION_LINES + 1)]
    assert all(_long_functions(ast.parse((ROOT / Path(*module.split("."))).with_suffix(".py").read_text()))
               for module, _ in LONG_FUNCTIONS), "an exemption names a function that is no longer long: drop it"
