"""The house: harness's modules import one another without a cycle, counting every import
(at the top, inside functions, and those only for type checking)."""

import ast
from pathlib import Path

import harness

PACKAGE = Path(harness.__file__).parent


def imports_of(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("harness"):
            parts = (node.module or "").split(".")
            found |= {parts[1]} if len(parts) > 1 else {alias.name for alias in node.names}
        elif isinstance(node, ast.Import):
            found |= {alias.name.split(".")[1] for alias in node.names
                      if alias.name.startswith("harness.")}
    return found & modules - {path.stem}


def import_graph() -> dict[str, set[str]]:
    modules = {path.stem for path in PACKAGE.glob("*.py")}
    return {path.stem: imports_of(path, modules) for path in PACKAGE.glob("*.py")}


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
    assert {"runner", "series", "model", "expect"} <= graph.keys()
    assert cycles(graph) == []
