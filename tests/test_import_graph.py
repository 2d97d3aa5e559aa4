"""The import graph of models/ and views/ has no cycle, and models/ never imports Flask.

Every import counts, at module level or inside a function: a function-level import is a dependency
that only waits for its first call. A lower module that needs a higher one's work fires a hook
(models/hooks.py) or asks the row it was given; see docs/architecture.md "Layers".
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("models", "views")
WEB = ("flask", "werkzeug", "flask_login", "flask_wtf", "wtforms", "jinja2", "waitress")
# werkzeug's password hashing is a plain library (no request, no app); the stored hashes are its format.
WEB_ALLOWED = ("werkzeug.security",)

def _modules():
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).glob("*.py")):
            found[package if path.stem == "__init__" else f"{package}.{path.stem}"] = path
    return found


def _imports(path):
    """Every module name an import statement in `path` names (`from a import b` names a and a.b)."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_graph():
    modules = _modules()
    graph = {}
    for name, path in modules.items():
        graph[name] = {target for target in _imports(path) if target in modules and target != name}
    return graph


def cycles(graph):
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycle():
    assert cycles(import_graph()) == [], "import cycles: move the shared piece lower, or fire a hook upward"


def test_models_never_import_the_web():
    offenders = []
    for name, path in _modules().items():
        if name.startswith("models"):
            offenders += [(name, n) for n in _imports(path)
                          if n.split(".")[0] in WEB and not n.startswith(WEB_ALLOWED)]
    assert offenders == []


def test_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_graph_sees_imports_inside_functions():
    graph = import_graph()
    assert "models.customer_tables" in graph["models.customers"]  # module level
    assert "models.permissions" in graph["models.customers"]  # inside the verbs
    assert "views.customers" in graph["views.merges"]
