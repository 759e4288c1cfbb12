"""The import graph as the architecture document draws it: layers point one way, no cycles.

autocomplete.model   the artifacts and their owners: imports nothing else of the project
session_store        imports nothing else of the project
indexer              imports only itself and autocomplete.model (it writes through it)
autocomplete         everything above; only the CLI reaches into the server
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("autocomplete", "indexer", "session_store")


def _module(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports() -> dict[str, set[str]]:
    """module -> the project modules it imports (anywhere in its body)."""
    files = {_module(p): p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_pkg = path.name == "__init__.py"
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[: len(name.split(".")) - node.level + is_pkg]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from package import module` depends on the module, not on the package
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base
                           for a in node.names]  # fmt: skip
            else:
                continue
            found |= {t for t in targets if t in files}
        graph[name] = found - {name}
    return graph


def _in(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_model_package_and_the_session_store_import_nothing_else_of_the_project():
    for name, deps in _imports().items():
        if _in(name, "autocomplete.model"):
            assert all(_in(d, "autocomplete.model") for d in deps), (name, deps)
        if _in(name, "session_store"):
            assert all(_in(d, "session_store") for d in deps), (name, deps)


def test_the_indexer_imports_only_itself_and_the_model():
    for name, deps in _imports().items():
        if _in(name, "indexer"):
            assert all(_in(d, "indexer") or _in(d, "autocomplete.model") for d in deps), name


def test_only_the_cli_reaches_into_the_server():
    for name, deps in _imports().items():
        if not (_in(name, "autocomplete.server") or _in(name, "autocomplete.cli")):
            assert not any(_in(d, "autocomplete.server") for d in deps), (name, deps)


def test_no_module_imports_itself_through_others():
    # imports inside functions count too: a lazy import is still a dependency. Left out:
    # session_store's factory (`base.create_store` imports the backends, which import
    # `base`), a package this graph treats as one layer below everything else
    graph = {
        m: {d for d in deps if not _in(d, "session_store")}
        for m, deps in _imports().items()
        if not _in(m, "session_store")
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    cycles: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles
