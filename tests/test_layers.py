"""The import contract (ARCHITECTURE.md, layers): views, the API and the CLI call services; services never import
them; models import nothing from `workflow`; and no import cycles among the project's modules.

Imports are read with `ast`, module-level and function-level alike, so a lazy import cannot hide a cycle."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("workflow", "models", "forms", "pdf")


def _modules() -> dict[str, Path]:
    found = {}
    for top in PACKAGES:
        for path in sorted((ROOT / top).rglob("*.py")):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The project module an imported name lives in (`workflow.files.store` → `workflow.files`)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str) -> set[str]:
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            names = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for name in names:
            resolved = _resolve(name)
            if resolved and resolved != module:
                targets.add(resolved)
    return targets


GRAPH = {module: _imports(module) for module in MODULES}


def _is_views(module: str) -> bool:
    """A blueprint's request handlers: views.py, office_views.py, and the admin mailbox blueprint."""
    leaf = module.rpartition(".")[2]
    return module.startswith("workflow.") and (leaf == "views" or leaf.endswith("_views")
                                               or module == "workflow.admin.mailbox")


def test_models_import_nothing_from_the_application():
    wrong = {m: sorted(t for t in GRAPH[m] if not t.startswith("models")) for m in GRAPH if m.startswith("models")}
    assert {m: t for m, t in wrong.items() if t} == {}


def _is_adapter(module: str) -> bool:
    """The ways in: blueprints, the JSON API and the command line."""
    return _is_views(module) or module.startswith(("workflow.api", "workflow.cli"))


def test_only_the_app_factory_and_other_adapters_import_adapters():
    """Services, the scheduler, the mail code and the shared mechanisms are callable without a request or a
    command line: none imports a view, the API or the CLI (the app factory registers them)."""
    wrong = {m: sorted(t for t in GRAPH[m] if _is_adapter(t)) for m in GRAPH
             if not _is_adapter(m) and m != "workflow"}
    assert {m: t for m, t in wrong.items() if t} == {}


def test_services_are_not_built_on_views():
    assert any(_is_views(m) for m in GRAPH) and any(m.endswith(".services") for m in GRAPH)
    assert not [m for m in GRAPH if m.endswith(".services") and any(_is_views(t) for t in GRAPH[m])]


def _cycles() -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), without a package's own
    `__init__` importing its submodules."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in GRAPH[v]:
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

    for module in GRAPH:
        if module not in index:
            visit(module)
    return [c for c in found if not all(m == c[0] or m.startswith(c[0] + ".") for m in c)]


def test_no_import_cycles():
    assert _cycles() == []


def test_the_cycle_finder_finds_a_cycle():
    GRAPH["models.org"].add("workflow.files")
    GRAPH["workflow.files"].add("models.org")
    try:
        assert ["models.org", "workflow.files"] in _cycles()
    finally:
        GRAPH["models.org"].discard("workflow.files")
        GRAPH["workflow.files"].discard("models.org")
