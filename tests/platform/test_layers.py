"""The layout holds (issue 18): no import cycle among the hub's and the connectors' modules (imports
inside functions included), and the lower layers import no slice: hub.platform and hub.domain import
only each other (the codec and wire records are the domain's, sent by the platform's Kafka helpers)."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.conftest import ROOT


def _modules() -> dict[str, Path]:
    out = {}
    for path in [*ROOT.glob("hub/**/*.py"), *ROOT.glob("connectors/**/*.py")]:
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


MODULES = _modules()


def _resolve(name: str) -> str | None:
    """The hub/connectors module ``name`` is (or lies in); None for third-party modules."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def imports(module: str) -> set[str]:
    """Every hub/connectors module ``module`` imports, at the top or inside a function."""
    out = set()
    for node in ast.walk(ast.parse(MODULES[module].read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # ``from pkg import mod`` imports the module pkg.mod when there is one
            names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in MODULES else node.module
                     for a in node.names]
        else:
            continue
        out |= {t for t in map(_resolve, names) if t and t != module}
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_the_finder_sees_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle() -> None:
    graph = {m: imports(m) for m in MODULES}
    assert "hub.platform.kafka.clients" in graph["hub.directory.agencies"] | graph["hub.platform.kafka.topics"]
    assert cycles(graph) == []


def test_lower_layers_import_nothing_above_them() -> None:
    lower = ("hub.platform.", "hub.domain.")
    wrong = [f"{m} imports {t}" for m in MODULES if m.startswith(lower) for t in imports(m)
             if not t.startswith(lower)]
    assert wrong == []
