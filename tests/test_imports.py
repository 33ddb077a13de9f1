"""The package's modules import one another one way: no module imports a module that imports it back.

Read from the source with ``ast`` (nothing is imported): every ``import`` and ``from ... import``
of a ``fairseq_intradistill`` module, at module level or inside a function, is an edge of the
graph; the graph must have no cycle.  A circle that only works because one side imports inside
a function is still a circle: the two modules cannot be understood, or moved, apart.
"""

import ast
from pathlib import Path
from typing import Dict, List, Optional, Set

from conftest import REPO

PACKAGE = "fairseq_intradistill"


def _module_names(root: Path) -> Dict[str, Path]:
    """Dotted name -> file, for every module of the package (a package is its ``__init__``)."""
    names = {}
    for path in sorted((root / PACKAGE).rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _resolve(module: str, is_package: bool, level: int, target: Optional[str]) -> str:
    """The absolute name of ``from <level dots><target> import ...`` written in ``module``."""
    if level == 0:
        return target or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([target] if target else []))


def import_graph(root: Path = REPO) -> Dict[str, Set[str]]:
    """Module -> the package's modules it imports anywhere in its code."""
    modules = _module_names(root)
    graph: Dict[str, Set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            targets: List[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(name, is_package, node.level, node.module)
                # "from pkg import sub" imports the module pkg.sub; "from mod import name" the module mod.
                targets = [
                    f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source for alias in node.names
                ]
            for target in targets:
                if target in modules and target != name:
                    graph[name].add(target)
    return graph


def find_cycle(graph: Dict[str, Set[str]]) -> Optional[List[str]]:
    """One cycle of ``graph`` as [a, b, ..., a], or None (depth-first search with colours)."""
    state: Dict[str, int] = {}  # 1: on the current path, 2: done
    path: List[str] = []

    def visit(node: str) -> Optional[List[str]]:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        path.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state:
            found = visit(start)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_a_circle_through_a_function_level_import(tmp_path):
    pkg = tmp_path / PACKAGE
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "a.py").write_text("from fairseq_intradistill.sub.b import f\n")
    (pkg / "sub" / "b.py").write_text("def f():\n    from . import a\n")
    (pkg / "c.py").write_text("from fairseq_intradistill.sub import a\n")
    graph = import_graph(tmp_path)
    assert graph[f"{PACKAGE}.c"] == {f"{PACKAGE}.sub.a"}
    assert find_cycle(graph) == [f"{PACKAGE}.sub.a", f"{PACKAGE}.sub.b", f"{PACKAGE}.sub.a"]
    (pkg / "sub" / "b.py").write_text("def f():\n    pass\n")
    assert find_cycle(import_graph(tmp_path)) is None


def test_the_package_imports_point_one_way():
    graph = import_graph()
    assert len(graph) > 30 and f"{PACKAGE}.analysis.prune" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "modules that import each other: " + " -> ".join(cycle)
