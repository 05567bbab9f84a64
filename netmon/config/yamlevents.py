"""Build Y-containers straight from libyaml's events, without composing a node tree first.

A composed tree costs ~4.5 KB per inventory device (a node and two marks per scalar) and all of
it is alive at once: at 100,000 devices the daemon's start-up peaked at ~490 MB before
validation began. Here each event is turned into its value as it arrives, so only the
containers being filled are alive (BENCHMARKS.md, memory).

This path takes only what it can convert exactly as `yamlload._Reader` converts a composed tree:
a single document without anchors. An alias, a `<<:` merge, a non-scalar key or a second
document raises `Fallback`, and so does a YAML error; the caller then undoes what this pass
recorded and composes the file as before, so every error and every bound (yamlbounds.py) stays
what it was.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import yaml

from netmon.config.errors import ConfigIssue
from netmon.config.yamlbounds import MAX_DEPTH
from netmon.config.yamlload import _MERGE, _STR, MissingEnv, YDict, YList, _Loader
from netmon.errors import ConfigurationError
from netmon.i18n import _

if TYPE_CHECKING:
    from netmon.config.yamlload import _Reader

_SCALAR, _MAP_START, _SEQ_START = yaml.ScalarEvent, yaml.MappingStartEvent, yaml.SequenceStartEvent
_ENDS = (yaml.MappingEndEvent, yaml.SequenceEndEvent)
_NO_KEY = object()


class Fallback(ConfigurationError):
    """The document needs the composer (anchors, merges, complex keys, several documents); never shown."""


def _tag(event: yaml.ScalarEvent, loader: _Loader) -> str:
    """The scalar's tag, resolved as pyyaml's composer resolves it."""
    tag = event.tag
    if tag is None or tag == "!":
        tag = loader.resolve(yaml.ScalarNode, event.value, event.implicit)
    return tag


def _scalar(reader: _Reader, event: yaml.ScalarEvent, loader: _Loader) -> Any:
    node = yaml.ScalarNode(_tag(event, loader), event.value, event.start_mark, event.end_mark, event.style)
    return reader.text(node) if node.tag == _STR else reader.scalar(node)


def convert(text: str, reader: _Reader) -> Any:
    """The document's value (None for an empty stream); raises `Fallback` or a `yaml.YAMLError`."""
    loader = _Loader(text)
    try:
        return _document(loader, reader)
    finally:
        loader.dispose()


def _document(loader: _Loader, reader: _Reader) -> Any:
    loader.get_event()  # StreamStartEvent
    if loader.check_event(yaml.StreamEndEvent):
        return None
    loader.get_event()  # DocumentStartEvent
    root = _value(loader, reader)
    loader.get_event()  # DocumentEndEvent
    if not loader.check_event(yaml.StreamEndEvent):
        raise Fallback("a second document")
    return root


def _value(loader: _Loader, reader: _Reader) -> Any:
    """Convert the value starting at the next event, containers iteratively (depth is bounded below)."""
    # Each open container: [value, key being filled (mappings) or _NO_KEY].
    stack: list[list[Any]] = []
    where = reader.where
    while True:
        event = loader.get_event()
        kind = type(event)
        if stack and isinstance(stack[-1][0], YDict) and stack[-1][1] is _NO_KEY and kind in (_SCALAR, _MAP_START,
                                                                                               _SEQ_START):
            out = stack[-1][0]
            if kind is not _SCALAR:
                raise Fallback("a mapping or list as a key")
            if _tag(event, loader) == _MERGE:
                raise Fallback("a merge key")
            key, line = event.value, event.start_mark.line + 1
            if key in out.key_lines and key in out:
                reader.issues.append(ConfigIssue(
                    reader.file, line, "", _("key '{key}' appears twice in this mapping (first on line {line}); "
                                             "keep one").format(key=key, line=out.key_lines[key])))
            out.key_lines[key] = line
            where.append(key)
            stack[-1][1] = key
            continue
        if kind in _ENDS:
            value = stack.pop()[0]
        elif kind is _SCALAR:
            value = _scalar(reader, event, loader)
        elif kind is _MAP_START or kind is _SEQ_START:
            line = event.start_mark.line + 1
            if len(where) >= MAX_DEPTH:
                reader.issues.append(ConfigIssue(reader.file, line, "", _(
                    "nested more than {depth} levels deep; a netmon config needs about 12").format(depth=MAX_DEPTH)))
                _skip(loader)
                value = MissingEnv("", "nesting")
            else:
                stack.append([YDict(reader.file, line) if kind is _MAP_START else YList(reader.file, line), _NO_KEY])
                if kind is _SEQ_START:
                    _item_start(loader, stack[-1][0], where)
                continue
        else:  # an alias (there is no anchor for it: the composer words that error)
            raise Fallback(type(event).__name__)
        if not stack:
            return value
        parent = stack[-1]
        if isinstance(parent[0], YList):
            parent[0].append(value)
            where.pop()
            _item_start(loader, parent[0], where)
        else:
            parent[0][parent[1]] = value
            parent[1] = _NO_KEY
            where.pop()


def _item_start(loader: _Loader, out: YList, where: list[Any]) -> None:
    """Before a list's next item: its line and its index on the path (nothing at the list's end)."""
    if loader.check_event(yaml.SequenceEndEvent):
        return
    out.item_lines.append(loader.peek_event().start_mark.line + 1)
    where.append(len(out))


def _skip(loader: _Loader) -> None:
    """Consume the rest of a container that is too deep (its start was just read)."""
    depth = 1
    while depth:
        event = loader.get_event()
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
        elif isinstance(event, _ENDS):
            depth -= 1
