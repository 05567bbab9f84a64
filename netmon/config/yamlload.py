"""YAML that remembers where every key and item came from, with `${NAME}` taken from the environment.

libyaml (`CSafeLoader`) composes the node tree; a small walk turns it into `YDict`/`YList`
containers that carry their file and the line of each key or item, so a pydantic `loc` can be
mapped back to `file:line`. Values are built without pyyaml's constructor machinery because that
walk is where a 20k-device inventory spends its time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import yaml

from netmon.config.errors import ConfigIssue, render_path

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_STR = "tag:yaml.org,2002:str"
_MAP = "tag:yaml.org,2002:map"
_MERGE = "tag:yaml.org,2002:merge"

Display = Callable[[Path], str]
_SCALARS = {tag: build for tag, build in yaml.SafeLoader.yaml_constructors.items()
            if tag and tag.rsplit(":", 1)[-1] in ("int", "float", "bool", "null", "timestamp")}


class _Loader(_Base):  # type: ignore[misc, valid-type]
    """libyaml parsing with a memo of implicit scalar tags: most values in an inventory repeat."""

    _tags: dict[str, str] = {}  # noqa: RUF012 - a process-wide cache, bounded below

    def resolve(self, kind: type, value: Any, implicit: tuple[bool, bool]) -> str:
        """Tag of a node; a plain scalar's tag depends only on its text, so it is looked up once."""
        if kind is not yaml.ScalarNode:
            return super().resolve(kind, value, implicit)
        if not implicit[0]:
            return _STR
        tag = self._tags.get(value)
        if tag is None:
            if len(self._tags) > 200_000:
                self._tags.clear()
            tag = self._tags[value] = super().resolve(kind, value, implicit)
        return tag


class YDict(dict):
    """A mapping read from YAML: `file`, its own `line`, and `key_lines[key]`."""

    __slots__ = ("file", "key_lines", "line")

    def __init__(self, file: str, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.key_lines: dict[str, int] = {}


class YList(list):
    """A sequence read from YAML: `file`, its own `line`, and `item_lines[i]`."""

    __slots__ = ("file", "item_lines", "line")

    def __init__(self, file: str, line: int) -> None:
        super().__init__()
        self.file = file
        self.line = line
        self.item_lines: list[int] = []


class EnvStr(str):
    """A string built from `${NAME}`; `source` lets `schema.to_secret` say where a secret came from."""

    __slots__ = ("source",)
    source: str

    def __new__(cls, value: str, source: str) -> EnvStr:
        obj = super().__new__(cls, value)
        obj.source = source
        return obj

    def __repr__(self) -> str:
        return f"<value of {self.source}>"


class MissingEnv(EnvStr):
    """Stands in for a value already reported (unset variable, unknown tag); errors on it are dropped."""

    __slots__ = ()


class _Reader:
    """Turns one composed YAML document into Y-containers, substituting `${NAME}`."""

    def __init__(self, file: str, environ: Mapping[str, str], issues: list[ConfigIssue]) -> None:
        self.file = file
        self.environ = environ
        self.issues = issues
        self.constructor = yaml.SafeLoader("")  # only its scalar constructors are used
        self.seen: dict[int, Any] = {}
        self.where: list[Any] = []  # key path of the node being read, for ${NAME} messages

    def value(self, node: yaml.Node) -> Any:
        """Convert `node`; anchors/aliases share one converted value, as pyyaml would."""
        if isinstance(node, yaml.ScalarNode):
            if node.tag == _STR:
                return self.text(node)
            return self.scalar(node)
        done = self.seen.get(id(node))
        if done is not None:
            return done
        if isinstance(node, yaml.SequenceNode):
            out: Any = YList(self.file, node.start_mark.line + 1)
            self.seen[id(node)] = out
            for i, item in enumerate(node.value):
                out.item_lines.append(item.start_mark.line + 1)
                self.where.append(i)
                out.append(self.value(item))
                self.where.pop()
            return out
        out = YDict(self.file, node.start_mark.line + 1)
        self.seen[id(node)] = out
        self.mapping(node, out)
        return out

    def scalar(self, node: yaml.ScalarNode) -> Any:
        """Build a non-string scalar (int, float, bool, null, timestamp); custom tags are refused."""
        build = _SCALARS.get(node.tag)
        if build is None:
            self.issues.append(ConfigIssue(
                self.file, node.start_mark.line + 1, "", f"unknown YAML tag '{node.tag}'; netmon "
                "takes plain values (use ${NAME} for values from the environment)"))
            return MissingEnv("", f"tag {node.tag}")
        return build(self.constructor, node)

    def mapping(self, node: yaml.MappingNode, out: YDict) -> None:
        """Fill `out`; `<<:` merges are honoured and a repeated key is an issue, not a silent overwrite."""
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                self.merge(value_node, out)
                continue
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else str(self.value(key_node))
            line = key_node.start_mark.line + 1
            if key in out.key_lines and key in out:
                self.issues.append(ConfigIssue(
                    self.file, line, "", f"key '{key}' appears twice in this mapping (first on line "
                    f"{out.key_lines[key]}); keep one"))
            out.key_lines[key] = line
            self.where.append(key)
            out[key] = self.value(value_node)
            self.where.pop()

    def merge(self, node: yaml.Node, out: YDict) -> None:
        """Apply a `<<: *anchor` merge: keys already present win, as in YAML 1.1."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        for source in sources:
            merged = self.value(source)
            if not isinstance(merged, YDict):
                line = node.start_mark.line + 1
                self.issues.append(ConfigIssue(self.file, line, "", "'<<:' must name a mapping anchor"))
                continue
            for key, value in merged.items():
                if key not in out:
                    out[key] = value
                    out.key_lines[key] = merged.key_lines.get(key, merged.line)

    def text(self, node: yaml.ScalarNode) -> str:
        """Return the scalar's text with `${NAME}` replaced; `$$` stands for a literal `$`."""
        raw = node.value
        if "$" not in raw:
            return raw
        names: list[str] = []
        missing: list[str] = []

        def sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name is None:
                return "$"
            names.append(name)
            if name not in self.environ:
                missing.append(name)
                return ""
            return self.environ[name]

        value = _ENV.sub(sub, raw)
        if not names:
            return value
        line = node.start_mark.line + 1
        for name in missing:
            self.issues.append(ConfigIssue(
                self.file, line, render_path(self.where), f"environment variable {name} is not set; export it (e.g. in "
                "/etc/netmon/env for the systemd unit) or write the value here"))
        source = "env " + ", ".join(dict.fromkeys(names))
        return MissingEnv(value, source) if missing else EnvStr(value, source)


def load_yaml(path: Path, display: Display, environ: Mapping[str, str],
              issues: list[ConfigIssue]) -> Any:
    """Read one YAML file into Y-containers; problems go to `issues` and the result is then None."""
    file = display(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        issues.append(ConfigIssue(file, 0, "", "file not found; check the path"))
        return None
    except (OSError, UnicodeDecodeError) as exc:
        issues.append(ConfigIssue(file, 0, "", f"cannot read the file ({exc}); check its permissions "
                                  "and that it is UTF-8 text"))
        return None
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 0
        what = exc.problem or "not valid YAML"
        context = f" {exc.context}" if exc.context else ""
        issues.append(ConfigIssue(file, line, "", f"YAML syntax error: {what}{context}; check the "
                                  "indentation and quote values that contain ': ', '#', '{' or '['"))
        return None
    except yaml.YAMLError as exc:
        issues.append(ConfigIssue(file, 0, "", f"YAML error: {exc}"))
        return None
    if node is None:
        return None
    return _Reader(file, environ, issues).value(node)
