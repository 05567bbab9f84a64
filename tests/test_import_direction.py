"""Imports follow the data flow: config -> schedule -> probers -> store -> outputs / analysis -> ui.

A small AST check over every module of `netmon/` (imports inside functions count too: a lazy
import is still a dependency). Each module belongs to a layer; a layer may import only the layers
listed for it. Known violations are listed below with the reason they remain; a new one fails, and
so does a listed one that is gone (so the list only shrinks).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETMON = ROOT / "netmon"

LAYER_OF_PREFIX = (  # first matching prefix wins
    ("netmon.config", "config"), ("netmon.kinds", "config"),
    ("netmon.probers", "probers"),
    ("netmon.store", "store"), ("netmon.schema", "store"), ("netmon.retention", "store"),
    ("netmon.downsample", "store"), ("netmon.store_jobs", "store"), ("netmon.codec", "store"),
    ("netmon.codec_lines", "store"), ("netmon.storesize", "store"),
    ("netmon.analysis", "analysis"), ("netmon.central", "analysis"),
    ("netmon.sinks", "outputs"), ("netmon.notify", "outputs"),
    ("netmon.ui", "ui"),
    ("netmon.daemon", "runtime"), ("netmon.writer", "runtime"), ("netmon.scheduler", "runtime"),
    ("netmon.cli", "app"), ("netmon.__main__", "app"), ("netmon.lab", "app"), ("netmon.sheets", "app"),
    ("netmon.probe_cmd", "app"),
    ("netmon.model", "base"), ("netmon.errors", "base"), ("netmon.i18n", "base"), ("netmon.fieldtypes", "base"),
    ("netmon.logs", "base"), ("netmon.signals", "base"), ("netmon.guard", "base"), ("netmon.progress", "base"),
    ("netmon.uptime", "base"), ("netmon.secrets", "base"),
    ("netmon.component", "base"), ("netmon.bags", "base"),
)
"""A module not listed is `runtime` (may use everything but ui and the lab; nothing below may use it)."""

ALLOWED = {
    "base": {"base"},
    "config": {"base", "config"},
    "probers": {"base", "config", "probers"},
    "store": {"base", "store"},
    "analysis": {"base", "config", "store", "analysis"},
    "outputs": {"base", "config", "store", "analysis", "outputs"},
    "ui": {"base", "config", "store", "analysis", "ui"},
    "runtime": {"base", "config", "probers", "store", "analysis", "outputs", "runtime"},
    "app": {"base", "config", "probers", "store", "analysis", "outputs", "ui", "runtime", "app"},
}

KNOWN = {
    # (importer, imported): why it is still there
}


def layer(module: str) -> str:
    """The layer of a dotted module name."""
    for prefix, name in LAYER_OF_PREFIX:
        if module == prefix or module.startswith(prefix + "."):
            return name
    return "base" if module == "netmon" else "runtime"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _exists(module: str) -> bool:
    path = ROOT.joinpath(*module.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _type_checking(node: ast.AST) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def imports(path: Path, top_level_only: bool = False) -> Iterator[str]:
    """netmon modules imported by `path` (TYPE_CHECKING blocks skipped: they never run)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    tree = ast.parse(path.read_text(), str(path))
    todo: list[ast.AST] = list(tree.body)
    while todo:
        node = todo.pop()
        if _type_checking(node):
            continue
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.startswith("netmon"))
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if not base.startswith("netmon"):
                continue
            subs = [f"{base}.{a.name}" for a in node.names if _exists(f"{base}.{a.name}")]
            yield from subs or [base]
        elif not top_level_only or isinstance(node, ast.If | ast.Try | ast.With):
            todo.extend(ast.iter_child_nodes(node))


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(NETMON.rglob("*.py"))}


def test_every_import_goes_down_the_layers() -> None:
    found = set()
    for module, path in _modules().items():
        for target in set(imports(path)):
            if layer(target) not in ALLOWED[layer(module)]:
                found.add((module, target))
    unexplained = sorted(found - KNOWN.keys())
    assert not unexplained, "imports against the data flow (move the code, or list it in KNOWN with why):\n" + \
        "\n".join(f"  {a} ({layer(a)}) -> {b} ({layer(b)})" for a, b in unexplained)
    fixed = sorted(KNOWN.keys() - found)
    assert not fixed, f"fixed, remove from KNOWN: {fixed}"


def test_no_import_cycles_between_modules() -> None:
    modules = _modules()
    graph = {m: {t for t in imports(p, top_level_only=True) if t in modules and t != m} for m, p in modules.items()}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                top = stack.pop()
                group.append(top)
                if top == node:
                    break
            if len(group) > 1:
                cycles.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    assert not cycles, f"modules importing each other at load time: {cycles}"


def test_the_check_sees_a_violation(tmp_path: Path) -> None:
    """The scanner itself works: a lazy ui import inside an analysis function is found."""
    probe = NETMON / "analysis" / "worker.py"  # imports pcs and the evaluator inside its functions
    targets = set(imports(probe))
    assert "netmon.analysis.rollups" in targets and "netmon.analysis.pcs" in targets
    assert layer("netmon.ui.report_pcs") not in ALLOWED[layer("netmon.analysis.evaluator")]
    assert layer("netmon.lab.netns") not in ALLOWED[layer("netmon.daemon")]
    assert layer("netmon.analysis.officehours") not in ALLOWED[layer("netmon.config.schema")]
