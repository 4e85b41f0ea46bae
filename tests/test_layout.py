"""The shape of the tree the README promises: no import cycle, no app module over 600 lines,
and imports that flow one way (views/admin/tasks → services → models).

These read the source as text (ast); they import nothing of ours.
"""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
APPS = ("portal", "newsletter", "events")
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    modules = {}
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            modules[name.removesuffix(".__init__")] = path
    return modules


MODULES = _modules()


def _resolve(module: str, level: int, target: str | None) -> str:
    """The absolute name of a relative import `from ..target import x` inside `module`."""
    if level == 0:
        return target or ""
    package = module.split(".")
    if MODULES[module].name != "__init__.py":
        package = package[:-1]
    if level > 1:
        package = package[: len(package) - (level - 1)]
    return ".".join(package + ([target] if target else []))


def _known(name: str) -> str | None:
    """The longest of our modules that `name` is, or lies inside."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def _imports(module: str) -> set[str]:
    """Every module of ours that `module` imports, at module level or inside a function."""
    found = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(module, node.level, node.module)
            names = [base, *(f"{base}.{alias.name}" for alias in node.names)]
        else:
            continue
        for name in names:
            target = _known(name)
            if target and target != module:
                found.add(target)
    return found


GRAPH = {module: _imports(module) for module in MODULES}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups


def test_the_walk_sees_the_apps_and_their_imports():
    assert {"newsletter.services.submissions", "events.services", "portal.celery"} <= set(GRAPH)
    assert "newsletter.models" in GRAPH["newsletter.services.submissions"]
    assert "newsletter.services.delivery" in GRAPH["newsletter.tasks.delivery"]


def test_the_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycle_among_our_modules():
    assert _cycles(GRAPH) == []


@pytest.mark.parametrize("app", ["newsletter", "events"])
def test_services_never_import_tasks_views_or_admin(app):
    """Imports flow one way; a service queues a task by name (portal.celery.queue_after_commit)."""
    services = [m for m in GRAPH if m.startswith(f"{app}.services")]
    assert services
    upward = (f"{app}.tasks", f"{app}.views", f"{app}.admin", f"{app}.urls")
    offenders = {
        module: sorted(t for t in GRAPH[module] if t.startswith(upward)) for module in services
    }
    assert {module: targets for module, targets in offenders.items() if targets} == {}


def test_models_import_no_services():
    models = [m for m in GRAPH if ".models" in m]
    assert {m: sorted(t for t in GRAPH[m] if ".services" in t) for m in models} == {
        m: [] for m in models
    }


def test_no_app_module_over_600_lines():
    long = {
        name: count
        for name, path in MODULES.items()
        if (count := len(path.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert long == {}
