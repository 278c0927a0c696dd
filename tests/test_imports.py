"""The house: harness's modules import one another without a cycle, counting every import
(at the top, inside functions, and those only for type checking)."""

import ast
from pathlib import Path

import harness

PACKAGE = Path(harness.__file__).parent


def module_name(path: Path) -> str:
    """harness/advice/guard.py -> advice.guard; a package's __init__ is the package."""
    parts = path.relative_to(PACKAGE).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The modules of harness that `path` imports, by their names below harness (a name
    imported from a package that is a module of it counts as that module)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
            base = (node.module or "").removeprefix("harness").lstrip(".")
            found |= {f"{base}.{alias.name}".lstrip(".") for alias in node.names} | {base}
        elif isinstance(node, ast.Import):
            found |= {alias.name.removeprefix("harness.") for alias in node.names
                      if alias.name.startswith("harness.")}
    return found & modules - {module_name(path)}


def import_graph() -> dict[str, set[str]]:
    paths = list(PACKAGE.rglob("*.py"))
    modules = {module_name(path) for path in paths}
    return {module_name(path): imports_of(path, modules) for path in paths}


def cycles(graph: dict[str, set[str]]) -> list[tuple[str, str]]:
    """Each import a -> b where b leads back to a."""
    def reachable(start: str) -> set[str]:
        seen: set[str] = set()
        todo = [start]
        while todo:
            for module in graph[todo.pop()] - seen:
                seen.add(module)
                todo.append(module)
        return seen

    return sorted((a, b) for a in graph for b in graph[a] if a in reachable(b))


def test_the_finder_sees_a_cycle_through_a_type_checking_import():
    assert cycles({"model": {"expect"}, "expect": {"model"}, "report": {"model"}}) == [
        ("expect", "model"), ("model", "expect")]


def test_no_module_imports_one_that_imports_it_back():
    graph = import_graph()
    assert {"runner", "series", "model", "expect", "advice.guard"} <= graph.keys()
    assert "advice.parse" in graph["advice.chain"]
    assert cycles(graph) == []
