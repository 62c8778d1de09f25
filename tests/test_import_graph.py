"""The import graph of qa_builder: no cycles, and no arrow from an earlier stage to a later one (issue 16).

A newcomer can then follow the data one way: answers → selection and agreement → review → render → build →
sign and manifest → verify → audit trail → workspace, with the public API, the web app and the CLI on top.
Every import of a qa_builder module counts, also those inside functions and under `TYPE_CHECKING`: a lazy
import is still an arrow. `from qa_builder import __version__` is left out: the version is a constant of the
package root, which re-exports everything else lazily (any other name taken from the root is an arrow to the
public API).
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "qa_builder"

# The stages, earliest first: a module may import its own stage and earlier ones, never a later one.
# A module belongs to the stage of the longest prefix listed here (the README's Layout section says the same).
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("infrastructure", ("qa_builder.errors", "qa_builder.files", "qa_builder.clock", "qa_builder.config",
                        "qa_builder.cache", "qa_builder.yaml_source", "qa_builder.printable", "qa_builder.bundled",
                        "qa_builder.pdfium")),
    ("models", ("qa_builder.models",)),
    ("sandbox", ("qa_builder.sandbox",)),
    ("answers", ("qa_builder.answers",)),
    ("selection and agreement", ("qa_builder.library",)),
    ("questionnaire", ("qa_builder.questionnaire",)),
    ("review", ("qa_builder.review",)),
    ("render", ("qa_builder.render",)),
    ("redline", ("qa_builder.redline",)),
    ("build", ("qa_builder.builds",)),
    ("sign and manifest", ("qa_builder.signing",)),
    ("verify", ("qa_builder.verify",)),
    ("audit trail", ("qa_builder.audit",)),
    ("workspace", ("qa_builder.workspace",)),
    ("negotiation", ("qa_builder.negotiation",)),
    ("regeneration", ("qa_builder.regenerate",)),
    ("test PKI", ("qa_builder.testing",)),
    ("public API", ("qa_builder", "qa_builder.api", "qa_builder.audited", "qa_builder.demo")),
    ("web app", ("qa_builder.web",)),
    ("command line", ("qa_builder.cli", "qa_builder.__main__")),
]

Graph = dict[str, dict[str, int]]


def _modules() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        modules[name] = path
    return modules


def _targets(node: ast.AST, package: str, modules: dict[str, Path]) -> list[str]:
    """The qa_builder modules one import statement loads (a name imported from a package may be a submodule)."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names if alias.name in modules]
    if not isinstance(node, ast.ImportFrom):
        return []
    if node.level:
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        module = ".".join(base + ([node.module] if node.module else []))
    else:
        module = node.module or ""
    if module not in modules:
        return []
    names = [alias.name for alias in node.names]
    if module == "qa_builder":
        names = [name for name in names if name != "__version__"]
        if not names:
            return []
    submodules = [f"{module}.{name}" for name in names if f"{module}.{name}" in modules]
    return submodules + ([module] if len(submodules) < len(names) else [])


def _graph() -> Graph:
    modules = _modules()
    graph: Graph = {name: {} for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            for target in _targets(node, package, modules):
                if target != name:
                    graph[name].setdefault(target, node.lineno)
    return graph


def _cycles(graph: Graph) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for succ in graph[node]:
            if succ not in index:
                visit(succ)
                low[node] = min(low[node], low[succ])
            elif succ in on_stack:
                low[node] = min(low[node], index[succ])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in graph:
        if node not in index:
            visit(node)
    return found


def _stage(module: str, stages: list[tuple[str, tuple[str, ...]]]) -> int:
    """The position in `stages` of the longest prefix that names `module` or a package holding it."""
    best, best_length = -1, -1
    for position, (_, prefixes) in enumerate(stages):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and len(prefix) > best_length:
                best, best_length = position, len(prefix)
    return best


def _backward(graph: Graph, stages: list[tuple[str, tuple[str, ...]]]) -> list[str]:
    """Every arrow from a module to one of a later stage, as 'module:line (stage) -> module (stage)'."""
    found = []
    for module, targets in sorted(graph.items()):
        here = _stage(module, stages)
        for target, line in sorted(targets.items()):
            there = _stage(target, stages)
            if there > here:
                found.append(f"{module}:{line} ({stages[here][0]}) -> {target} ({stages[there][0]})")
    return found


def test_no_import_cycles() -> None:
    graph = _graph()
    described = [
        "; ".join(f"{a}:{line} -> {b}" for a in cycle for b, line in graph[a].items() if b in cycle)
        for cycle in _cycles(graph)
    ]
    assert not described, "import cycles: " + " | ".join(described)


def test_every_module_belongs_to_a_stage() -> None:
    assert [module for module in _modules() if _stage(module, STAGES) < 0] == []


def test_no_stage_imports_a_later_stage() -> None:
    backward = _backward(_graph(), STAGES)
    assert not backward, "imports of a later stage:\n" + "\n".join(backward)


def test_the_package_roots_lazy_re_exports_point_to_no_later_stage() -> None:
    """The root imports its public names by string (`importlib`) on first use: those are arrows too."""
    from qa_builder import _HOMES

    modules = _modules()
    assert all(home in modules for home in _HOMES.values())
    root = _stage("qa_builder", STAGES)
    assert sorted({home for home in _HOMES.values() if _stage(home, STAGES) > root}) == []


def test_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b": 1}, "b": {"a": 2}, "c": {}}) == [["a", "b"]]


def test_stage_rule_finds_an_arrow_to_a_later_stage() -> None:
    stages = [("early", ("p.a",)), ("late", ("p.b", "p.a.top"))]
    graph: Graph = {"p.a.x": {"p.b.y": 3, "p.a.z": 4}, "p.b.y": {"p.a.x": 1}, "p.a.top": {"p.b.y": 2}, "p.a.z": {}}
    assert _backward(graph, stages) == ["p.a.x:3 (early) -> p.b.y (late)"]


def test_lazy_and_type_checking_imports_count(tmp_path: Path) -> None:
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from qa_builder.builds import pipeline\n"
              "def f():\n    import qa_builder.cli\n    from qa_builder import __version__, build\n")
    modules = {name: tmp_path for name in ("qa_builder", "qa_builder.builds", "qa_builder.builds.pipeline",
                                           "qa_builder.cli")}
    found = [t for node in ast.walk(ast.parse(source)) for t in _targets(node, "qa_builder.render", modules)]
    assert sorted(found) == ["qa_builder", "qa_builder.builds.pipeline", "qa_builder.cli"]
