"""The layout's rules, checked by walking the imports of every module under bench/ (function-level imports too).

Layers run one way: an arrow from a module to one in a higher layer, or any import cycle, fails. Measuring and
judging stay apart: the judge, the gate and the report read records and never import the runner or a pass.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "bench"

LAYERS: dict[str, int] = {
    # 0: vocabulary every layer may use
    "bench": 0,
    "bench.errors": 0,
    "bench.intervals": 0,
    "bench.spec": 0,
    "bench.metrics": 0,
    "bench.registry": 0,
    "bench.checks": 0,
    "bench.safe_yaml": 0,
    "bench.artefacts": 0,
    "bench.durable": 0,
    # 1: records and the things that run or judge one case
    "bench.results": 1,
    "bench.hardware": 1,
    "bench.measure": 1,
    "bench.models": 1,
    "bench.compress": 1,
    "bench.engines": 1,
    "bench.judge": 1,
    # 2: a case through its passes; suites; reading runs back
    "bench.runner": 2,
    "bench.resume": 2,
    "bench.suite": 2,
    "bench.gate": 2,
    "bench.report": 2,
    # 3: the front doors
    "bench.plugin": 3,
    "bench.progress": 3,
    "bench.commands": 3,
    "bench.cli": 3,
}
READ_ONLY = ("bench.judge", "bench.gate", "bench.report")
"""Packages that only read records: they never import the runner, the plugin, or a measurement pass."""
MEASURING = ("bench.runner", "bench.plugin", "bench.measure")


def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def unit(module: str) -> str:
    return ".".join(module.split(".")[:2])


def imports(modules_by_name: dict[str, Path]) -> set[tuple[str, str]]:
    """(importer, imported) for every import of a bench module, at any depth of the file."""
    edges = set()
    for name, path in modules_by_name.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            for target in targets:
                while target not in modules_by_name and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target.startswith("bench") and target in modules_by_name and target != name:
                    edges.add((name, target))
    return edges


def cycles(edges: set[tuple[str, str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan). A package's own ``__init__`` importing its
    submodules (re-exports) is not a cycle with them."""
    graph: dict[str, set[str]] = {}
    for a, b in edges:
        if not (b.startswith(a + ".") or a.startswith(b + ".")):
            graph.setdefault(a, set()).add(b)
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


MODULES = modules()
EDGES = imports(MODULES)


def test_every_module_has_a_layer():
    assert {unit(m) for m in MODULES} <= set(LAYERS), "a new top-level module or package needs a layer here"


def test_no_import_cycles():
    assert cycles(EDGES) == []


def test_no_import_from_a_lower_layer_to_a_higher_one():
    upward = sorted((a, b) for a, b in EDGES if LAYERS[unit(b)] > LAYERS[unit(a)])
    assert upward == []


@pytest.mark.parametrize("reader", READ_ONLY)
def test_judging_never_imports_measuring(reader):
    crossing = sorted((a, b) for a, b in EDGES if unit(a) == reader and unit(b) in MEASURING)
    assert crossing == []


def test_the_checks_find_what_they_look_for():
    """The walker and the cycle finder can fail: a synthetic cycle and an upward arrow are found."""
    assert cycles({("bench.a", "bench.b"), ("bench.b", "bench.a")}) == [["bench.a", "bench.b"]]
    assert cycles({("bench.gate", "bench.gate.rules"), ("bench.gate.rules", "bench.gate")}) == []
    assert ("bench.runner", "bench.measure.timing") in EDGES
    assert LAYERS[unit("bench.commands.run")] > LAYERS[unit("bench.runner")]


def readme_section() -> str:
    """README's "How the code is organised", up to the next heading."""
    text = (PACKAGE.parent / "README.md").read_text(encoding="utf-8")
    start = text.index("### How the code is organised")
    end = text.find("\n#", start + 1)
    return text[start : None if end < 0 else end]


def test_the_readme_lists_the_layers_checked_here():
    """Was: README's layer list left out ``durable`` (layer 0 here), so a reader could not place bench/durable.py.
    The list, ``a, b`` ← ``c, d`` ← ..., names each layer's modules as :data:`LAYERS` has them."""
    section = readme_section()
    line = section[section.index("an upward arrow):") + len("an upward arrow):") :]
    line = " ".join(line[line.index("`") : line.index(".", line.rindex("←"))].split())
    written = [{name.strip() for name in layer.strip(" `").split(",")} for layer in line.split("←")]
    layers = [{m.removeprefix("bench.") for m, n in LAYERS.items() if n == i and m != "bench"} for i in range(4)]
    assert written == layers


def test_the_readme_table_names_every_module():
    """Was: README's package table named neither bench/durable.py nor bench/hardware.py. Every top-level module
    and package of bench/ is in it, as ``bench/NAME``, ``NAME.py`` or ``NAME/``."""
    section = readme_section()
    table = section[section.index("| package |") :]
    named = set(re.findall(r"`(?:bench/)?([a-z_]+)(?:\.py|/)`", table))
    top = {unit(m).removeprefix("bench.") for m in MODULES if m != "bench"}
    assert top - named == set()
