"""YAML that remembers where every key and item came from, with `${NAME}` taken from the environment.

Environment references in string values (never in keys): `${NAME}`, `${NAME:-default}` (default
when unset or empty), `${NAME-default}` (only when unset), `${NAME:?message}` / `${NAME?message}`
(an error with that message when unset/empty, or unset), `$$` for a literal `$`. A bare `$NAME`
is refused with a hint rather than silently kept as text. Values taken from the environment are
recorded in `masks` so that no message ever shows them (see `secrets`).

Hostile input is refused, never crashed on: files go through `files.read_text` (regular files up
to 16 MB, 64 MB for all the files of a config), nesting depth and alias expansion are bounded
before anything is converted (yamlbounds.py; a 12 KB "billion laughs" file used to take 6 GB),
and a scalar that cannot be built (`!!timestamp` on a non-date, a 5,000-digit integer, a NUL
character) is an issue on its line.

A file without anchors is converted from libyaml's events as they come (yamlevents.py: no node
tree, which cost ~4.5 KB per device at once). Otherwise libyaml (`CSafeLoader`) composes the node
tree and a small walk turns it into `YDict`/`YList`
containers that carry their file and the line of each key or item, so a pydantic `loc` can be
mapped back to `file:line`. Values are built without pyyaml's constructor machinery because that
walk is where a 20k-device inventory spends its time.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, MutableMapping
from pathlib import Path
from typing import Any

import yaml

from netmon.config.errors import ConfigIssue, render_path
from netmon.config.files import FileProblem, read_text
from netmon.config.secrets import label_env
from netmon.config.yamlbounds import MAX_DEPTH, Budget, measure
from netmon.i18n import N_, _

_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_ENV = re.compile(r"\$\$|\$\{([^}]*)(\}?)|\$([A-Za-z_][A-Za-z0-9_]*)")
_REF = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])(.*))?", re.S)
MAX_INT = 2**63 - 1
_UNSET = N_("environment variable {name} is not set; export it (e.g. in /etc/netmon/env for the systemd "
            "unit) or write the value here")
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


def clear_scalar_memo() -> None:
    """Forget the memo of scalar tags (called after a whole config is loaded)."""
    _Loader._tags.clear()


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
    """A string built from `${NAME}`; `source` lets `schema.to_secret` say where a secret came from.

    `taken` holds the pieces that came from the environment, by variable name.
    """

    __slots__ = ("source", "taken")
    source: str
    taken: dict[str, str]

    def __new__(cls, value: str, source: str, taken: dict[str, str] | None = None) -> EnvStr:
        obj = super().__new__(cls, value)
        obj.source = source
        obj.taken = taken or {}
        return obj

    def __repr__(self) -> str:
        return f"<value of {self.source}>"


class MissingEnv(EnvStr):
    """Stands in for a value already reported (unset variable, unknown tag); errors on it are dropped."""

    __slots__ = ()


class _Reader:
    """Turns one composed YAML document into Y-containers, substituting `${NAME}`."""

    def __init__(self, file: str, environ: Mapping[str, str], issues: list[ConfigIssue],
                 masks: MutableMapping[str, str]) -> None:
        self.file = file
        self.environ = environ
        self.issues = issues
        self.masks = masks
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
        if len(self.where) >= MAX_DEPTH:  # measure() checks this only for files with anchors
            self.issues.append(ConfigIssue(self.file, node.start_mark.line + 1, "", _(
                "nested more than {depth} levels deep; a netmon config needs about 12").format(depth=MAX_DEPTH)))
            return MissingEnv("", "nesting")
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
        line = node.start_mark.line + 1
        build = _SCALARS.get(node.tag)
        if build is None:
            self.issues.append(ConfigIssue(
                self.file, line, render_path(self.where), _(
                    "unknown YAML tag '{tag}'; netmon takes plain values (use ${{NAME}} for values from the "
                    "environment)").format(tag=_clip(node.tag, 80))))
            return MissingEnv("", f"tag {node.tag}")
        try:
            value = build(self.constructor, node)
        except Exception:  # pyyaml raises ValueError, KeyError, TypeError... for bad text
            kind = node.tag.rsplit(":", 1)[-1]
            self.issues.append(ConfigIssue(self.file, line, render_path(self.where), _(
                "'{value}' is not a valid {kind}; fix the value or quote it as text").format(
                    value=_clip(node.value), kind=kind)))
            return MissingEnv("", f"tag {node.tag}")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
            self.issues.append(ConfigIssue(self.file, line, render_path(self.where), _(
                "the number {value} is too large; netmon takes whole numbers up to {max}").format(
                    value=_clip(node.value), max=MAX_INT)))
            return MissingEnv("", "a huge number")
        return value

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
                    self.file, line, "", _("key '{key}' appears twice in this mapping (first on line {line}); "
                                           "keep one").format(key=key, line=out.key_lines[key])))
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
                self.issues.append(ConfigIssue(self.file, line, "", _("'<<:' must name a mapping anchor")))
                continue
            for key, value in merged.items():
                if key not in out:
                    out[key] = value
                    out.key_lines[key] = merged.key_lines.get(key, merged.line)

    def text(self, node: yaml.ScalarNode) -> str:
        """Return the scalar's text with environment references replaced (see the module docstring)."""
        raw = node.value
        if "\0" in raw:
            self.issue(node, _("the text contains a NUL character (\\0); remove it"))
            return MissingEnv("", "a NUL character")
        if "$" not in raw:
            return raw
        taken: dict[str, str] = {}
        problems: list[str] = []
        value = _ENV.sub(lambda m: self.reference(m, taken, problems), raw)
        for problem in problems:
            self.issue(node, problem)
        for name, piece in taken.items():
            self.masks.setdefault(piece, label_env(name))
        source = "env " + ", ".join(taken) if taken else "config text"
        if problems:
            return MissingEnv(value, source)
        return EnvStr(value, source, taken) if taken else value

    def reference(self, match: re.Match[str], taken: dict[str, str], problems: list[str]) -> str:
        """The replacement of one `$...` match; problems are appended, never raised."""
        if match.group(0) == "$$":
            return "$"
        bare = match.group(3)
        if bare is not None:
            problems.append(_("'${name}' is not substituted; write ${{{name}}} for an environment variable "
                              "or $$ for a literal $").format(name=bare))
            return ""
        body, closed = match.group(1), match.group(2)
        ref = _REF.fullmatch(body) if closed else None
        if ref is None:
            problems.append(_("'${{{body}' is not a variable reference; write ${{NAME}}, ${{NAME:-default}} or "
                              "${{NAME:?message}} (NAME: letters, digits, _), or $$ for a $").format(
                                  body=_clip(body) + closed))
            return ""
        name, op, arg = ref.groups()
        if arg is not None and "$" in arg:
            problems.append(_("the default or message of ${{{name}...}} contains '$'; nested references "
                              "are not supported").format(name=name))
            return ""
        value = _lookup(self.environ, name, default=op in (":-", "-"))
        empty = value is None or (value == "" and op is not None and op.startswith(":"))
        if op is None and value is None:
            problems.append(_(_UNSET).format(name=name))
            return ""
        if op in (":-", "-") and empty:
            return arg
        if op in (":?", "?") and empty:
            text = _("environment variable {name} is not set: {message}") if value is None else \
                _("environment variable {name} is empty: {message}")
            problems.append(text.format(name=name, message=arg or _("it is required")))
            return ""
        assert value is not None
        taken[name] = value
        return value

    def issue(self, node: yaml.Node, text: str) -> None:
        """Record a problem on `node`'s line, at the path being read."""
        self.issues.append(ConfigIssue(self.file, node.start_mark.line + 1, render_path(self.where), text))


def _lookup(environ: Mapping[str, str], name: str, default: bool) -> str | None:
    """The variable's value, or None when unset.

    `in` and `[]` rather than `.get`: they let load_config(secrets=False) stand a placeholder in
    for the service's secrets when a reader (status, report) loads the config. A reference with
    a default uses the real lookup, so the default applies there too.
    """
    if default:
        return environ.get(name)
    if name not in environ:
        return None
    return environ[name]


def _clip(text: str, width: int = 40) -> str:
    """Echo at most `width` characters of config text (a 5,000-digit number is not worth repeating)."""
    return text if len(text) <= width else f"{text[:width]}... ({len(text)} characters)"


def load_yaml(path: Path, display: Display, environ: Mapping[str, str], issues: list[ConfigIssue],
              masks: MutableMapping[str, str] | None = None, budget: Budget | None = None) -> Any:
    """Read one YAML file into Y-containers; problems go to `issues` and the result is then None.

    `budget` is shared by the files of one config, so many files cannot add up to what one may not.
    """
    file = display(path)
    budget = Budget() if budget is None else budget
    limit = f"{budget.total_bytes // 1048576} MB"
    if budget.read_left <= 0:
        issues.append(ConfigIssue(file, 1, "", _("not read: netmon has read {mb} MB of files for this config "
                                                 "already; include fewer or smaller files").format(
                                                     mb=4 * budget.total_bytes // 1048576)))
        return None
    try:
        text = read_text(path)
    except FileNotFoundError:
        issues.append(ConfigIssue(file, 0, "", _("file not found; check the path")))
        return None
    except FileProblem as exc:
        issues.append(ConfigIssue(file, exc.line, "", _("the file {problem}").format(problem=exc)))
        return None
    budget.read_left -= len(text)
    if len(text) > budget.bytes_left:
        issues.append(ConfigIssue(file, 1, "", _("with this file the config's files add up to more than {limit}; "
                                                 "include fewer or smaller files").format(limit=limit)))
        return None
    budget.bytes_left -= len(text)
    masks = {} if masks is None else masks
    if "&" not in text:  # no anchor, so no alias: converted from events, without a node tree
        from netmon.config import yamlevents

        recorded, masked = len(issues), dict(masks)
        try:
            return yamlevents.convert(text, _Reader(file, environ, issues, masks))
        except (yamlevents.Fallback, yaml.YAMLError):
            del issues[recorded:]  # the composer below reports the file as it always did
            masks.clear()
            masks.update(masked)
    try:
        node = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        what = exc.problem or _("not valid YAML")
        context = f" {exc.context}" if exc.context else ""
        issues.append(ConfigIssue(file, line, "", _(
            "YAML syntax error: {problem}; check the indentation and quote values that contain ': ', '#', "
            "'{{' or '['").format(problem=what + context)))
        return None
    except yaml.YAMLError as exc:
        position = getattr(exc, "position", None)
        line = text.count("\n", 0, position) + 1 if isinstance(position, int) else 1
        what = getattr(exc, "reason", None) or _("not valid YAML")
        issues.append(ConfigIssue(file, line, "", _(
            "YAML error: {problem}; YAML files may not contain control characters (write \\0 or \\t escapes "
            "inside double quotes instead)").format(problem=what)))
        return None
    if node is None:
        return None
    # Without an anchor there is no alias: the depth check in _Reader is enough, and the walk is saved.
    problem = measure(node, budget) if "&" in text else None
    if problem is not None:
        issues.append(ConfigIssue(file, problem[0], "", problem[1]))
        return None
    return _Reader(file, environ, issues, masks).value(node)
