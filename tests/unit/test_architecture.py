"""The architecture's rules that import-linter's contracts do not state: no import circles anywhere, and no
module a reader cannot hold without a sentence in docs/architecture.md saying why it stays whole."""

from __future__ import annotations

import sys
from pathlib import Path

import grimp

import copyalign

ROOT = Path(copyalign.__file__).parent
ARCHITECTURE = Path(__file__).parents[2] / "docs" / "architecture.md"
MAX_LINES = 500


def _cycles(graph: grimp.ImportGraph) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for root in sorted(graph.modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child)))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    m = stack.pop()
                    on_stack.discard(m)
                    component.append(m)
                    if m == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_no_module_imports_itself_back_even_through_a_function_level_import() -> None:
    # grimp reads every import statement, those inside functions included, so a circle "patched" with a
    # late import is still a circle here; only imports under TYPE_CHECKING are left out (they never run)
    graph = grimp.build_graph("copyalign", exclude_type_checking_imports=True)
    assert _cycles(graph) == []


def test_the_cycle_finder_finds_a_planted_circle(tmp_path: Path, monkeypatch: object) -> None:
    pkg = tmp_path / "circlepkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from circlepkg import b\n")
    (pkg / "b.py").write_text("from circlepkg import a\n")
    sys.path.insert(0, str(tmp_path))
    try:
        graph = grimp.build_graph("circlepkg", cache_dir=None)
    finally:
        sys.path.remove(str(tmp_path))
    assert _cycles(graph) == [["circlepkg.a", "circlepkg.b"]]


def test_every_long_module_is_explained_in_the_architecture_document() -> None:
    text = ARCHITECTURE.read_text("utf-8")
    long = [
        path.relative_to(ROOT).as_posix()
        for path in sorted(ROOT.rglob("*.py"))
        if "migrations" not in path.parts and len(path.read_text("utf-8").splitlines()) > MAX_LINES
    ]
    unexplained = [m for m in long if m not in text]
    assert unexplained == []
