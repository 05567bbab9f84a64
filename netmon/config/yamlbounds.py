"""Bounds on what a composed YAML tree may become: nesting depth, alias expansion, recursion.

libyaml composes aliases as shared nodes, so a 400-byte "billion laughs" file is a small tree
that only explodes when converted and validated (the issue's 12 KB file took 6 GB). `measure`
walks the composed tree iteratively before anything is converted: a first pass checks depth and
looks for sharing; only a tree with a shared mapping or list gets its expanded size computed,
each node's once. The limits hold across all the files of one config (`Budget`), so ten
thousand included files cannot add up to what one may not.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import yaml

from netmon.i18n import _

MAX_DEPTH = 64
"""Deepest nesting of mappings and lists; netmon's own deepest (a device's location) is ~12."""
MAX_ALIAS_NODES = 1_000_000
"""Values aliases may add beyond those written (or as many as written, for a larger config)."""
MAX_TOTAL_BYTES = 64 * 1024 * 1024
"""All the files of one config together (main file, includes, profiles)."""


@dataclass
class Budget:
    """What the files of one config have used so far."""

    bytes_left: int = MAX_TOTAL_BYTES
    total_bytes: int = MAX_TOTAL_BYTES
    read_left: int = 4 * MAX_TOTAL_BYTES
    """Reading stops here, refused files included (10,000 includes of a 16 MB file are 160 GB)."""
    written: int = 0
    """Values written in the files so far."""
    extra: int = 0
    """Values the aliases added so far."""


def _children(node: yaml.Node) -> Iterator[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        yield from node.value
    elif isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            yield key
            yield value


def measure(root: yaml.Node, budget: Budget | None = None) -> tuple[int, str] | None:
    """Refuse what would blow up once aliases are expanded: (line, problem), or None when the tree is fine.

    Iterative, so a deep document cannot exhaust the stack. A first quick pass checks the depth
    and looks for a mapping or list reached twice (an alias); only then are expanded sizes
    computed, each node's once.
    """
    budget = Budget() if budget is None else budget
    seen: set[int] = set()
    shared = False
    written = 0
    stack: list[tuple[yaml.Node, int]] = [] if isinstance(root, yaml.ScalarNode) else [(root, 1)]
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            shared = True
            continue
        seen.add(id(node))
        if depth > MAX_DEPTH:
            return node.start_mark.line + 1, _("nested more than {depth} levels deep; a netmon config needs "
                                               "about 12").format(depth=MAX_DEPTH)
        children = node.value if isinstance(node, yaml.SequenceNode) else [c for pair in node.value for c in pair]
        written += len(children)
        stack.extend((c, depth + 1) for c in children if not isinstance(c, yaml.ScalarNode))
    if shared:
        return _expansion(root, budget)
    budget.written += written
    return None


def _expansion(root: yaml.Node, budget: Budget) -> tuple[int, str] | None:
    """The alias check proper: recursion, and how many values the aliases add."""
    sizes: dict[int, int] = {}
    refs: dict[int, tuple[int, yaml.Node]] = {}
    on_path: set[int] = set()
    written = 0
    stack: list[tuple[yaml.Node, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, leaving = stack.pop()
        key = id(node)
        if leaving:
            on_path.discard(key)
            sizes[key] = min(10**15, 1 + sum(sizes.get(id(c), 1) for c in _children(node)))
            continue
        if key in on_path:
            return node.start_mark.line + 1, _("an alias refers to a mapping or list that contains it; "
                                               "YAML recursion is not allowed in a config")
        count, _node = refs.get(key, (0, node))
        refs[key] = (count + 1, node)
        if key in sizes:
            continue
        if depth > MAX_DEPTH:
            return node.start_mark.line + 1, _("nested more than {depth} levels deep; a netmon config needs "
                                               "about 12").format(depth=MAX_DEPTH)
        on_path.add(key)
        stack.append((node, depth, True))
        for child in _children(node):
            written += 1
            if not isinstance(child, yaml.ScalarNode):
                stack.append((child, depth + 1, False))
    extra = sizes.get(id(root), 1) - written - 1
    allowed = max(MAX_ALIAS_NODES, budget.written + written)
    if budget.extra + extra <= allowed:
        budget.extra += extra
        budget.written += written
        return None
    count, worst = max(refs.values(), key=lambda r: (r[0] - 1) * sizes.get(id(r[1]), 1) if r[0] > 1 else 0)
    times = _("once") if count == 2 else _("{n} times").format(n=f"{count - 1:,}")
    together = _("; with the config's other files that makes {total}, over {allowed}").format(
        total=f"{budget.extra + extra:,}", allowed=f"{allowed:,}") if budget.extra else ""
    return worst.start_mark.line + 1, _(
        "YAML aliases expand this file by {extra} values ({written} written; the anchor here is aliased "
        "{times}){together}; netmon refuses such alias bombs: write the repeated parts out").format(
            extra=f"{extra:,}", written=f"{written:,}", times=times, together=together)


