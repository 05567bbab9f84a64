"""Turn pydantic validation errors into `file:line: path: message` issues a technician can act on.

pydantic reports *where* as a `loc` tuple through the models; the YAML containers (`YDict`,
`YList`) know the file and line of every key and item, so the two are walked side by side. The
tag of the check union (`('checks', 0, 'snmp', ...)`) is dropped from the rendered path. A value is
echoed back only when it cannot be a credential: pydantic's `input` of a secret field never prints.
"""

from __future__ import annotations

import difflib
import math
import types
import typing
from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel, ValidationError

from netmon.config.errors import ConfigIssue, render_path, yaml_float
from netmon.config.yamlload import EnvStr, MissingEnv, YDict, YList

_ABSENT = object()
_SECRET_KEYS = frozenset({"community", "token", "password", "key"})
_SYNONYMS = {"province": "name", "commune": "name", "village": "name", "device": "name", "ip": "host",
             "address": "host", "hostname": "host", "type": "kind", "every": "interval",
             "lng": "lon", "long": "lon", "latitude": "lat", "longitude": "lon"}
_MISSING_HINTS = {"version": "1", "prober": "icmp, snmp, tcp or http", "url": "http://... or https://...",
                  "protocol": "sha, sha256, ... (auth) or aes, aes256, ... (priv); without it pysnmp "
                  "silently uses MD5/DES", "kind": "router, cpe, bts, pc, service, camera or port",
                  "checks": "a list of checks"}


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """The closest of `choices` to `word` (case-insensitive), or None when nothing is close."""
    options = {c.lower(): c for c in choices}
    match = difflib.get_close_matches(word.lower(), list(options), n=1, cutoff=0.6)
    return options[match[0]] if match else None


def show(value: Any, key: object = None) -> str:
    """Echo a value in a message, unless it may be a credential (secret keys, anything from the env)."""
    if isinstance(value, EnvStr) and not isinstance(value, MissingEnv):
        return f"<from {value.source}>"  # named, never shown: it may be a secret in the wrong field
    if isinstance(value, EnvStr) or key in _SECRET_KEYS:
        return "the value"
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, float) and not math.isfinite(value):
        return yaml_float(value)
    return str(value)


def _unwrap(tp: Any) -> Any:
    while True:
        origin = typing.get_origin(tp)
        if origin is typing.Annotated:
            tp = typing.get_args(tp)[0]
        elif origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(tp) if a is not type(None)]
            if len(args) != 1:
                return tp
            tp = args[0]
        else:
            return tp


def _descend(tp: Any, seg: Any) -> Any:
    """The type found one `loc` step below `tp` (None when the schema has nothing there)."""
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        field = tp.model_fields.get(seg) if isinstance(seg, str) else None
        return field.annotation if field else None
    origin = typing.get_origin(tp)
    if origin is list:
        return typing.get_args(tp)[0] if isinstance(seg, int) else None
    if origin is dict:
        return typing.get_args(tp)[1]
    if origin in (typing.Union, types.UnionType):
        for member in typing.get_args(tp):
            tag = getattr(member, "model_fields", {}).get("prober")
            if tag is not None and seg in typing.get_args(tag.annotation):
                return member
    return None


class _Spot:
    """Where a `loc` lands: file, line, the raw value (or _ABSENT) and the rendered path."""

    def __init__(self, raw: Any, tp: Any, loc: Sequence[Any], prefix: tuple[Any, ...]) -> None:
        node, self.tp, parent_tp = raw, tp, None
        self.file, self.line = getattr(raw, "file", ""), getattr(raw, "line", 0)
        self.path: list[Any] = list(prefix)
        self.check: tuple[int, Any] | None = None
        for seg in loc:
            parent_tp, self.tp = self.tp, _descend(self.tp, seg)
            if seg == "[key]":
                continue
            if isinstance(node, YDict):
                if isinstance(seg, str) and seg in node:
                    self.line = node.key_lines.get(seg, self.line)
                    node = node[seg]
                elif isinstance(seg, int) or (isinstance(seg, str) and node.get("prober") == seg):
                    continue  # a single output wrapped into a list, or the check union's tag
                else:
                    node = _ABSENT
            elif isinstance(node, YList) and isinstance(seg, int) and 0 <= seg < len(node):
                self.file, self.line = node.file, node.item_lines[seg]
                node = node[seg]
                if self.path == ["checks"] and isinstance(node, YDict):
                    self.check = (seg, node)
            else:
                node = _ABSENT
            if isinstance(node, YDict | YList):
                self.file = node.file  # an included province lives in its own file
            self.path.append(seg)
        self.node, self.parent_tp = node, parent_tp

    def rendered(self, drop_last: bool = False) -> str:
        """The path as printed; inside a profile, `checks[i]` becomes `check 'NAME' (PROBER)`."""
        path = self.path[:-1] if drop_last else self.path
        if self.check is None or len(path) < 2 or path[0] != "checks":
            return render_path(path)
        _, check = self.check
        name, prober = check.get("name"), check.get("prober")
        head = f"check '{name}'" if isinstance(name, str) else render_path(path[:2])
        head += f" ({prober})" if isinstance(prober, str) else ""
        rest = render_path(path[2:])
        return f"{head}.{rest}" if rest else head


def _fields(tp: Any) -> list[str]:
    tp = _unwrap(tp)
    return list(tp.model_fields) if isinstance(tp, type) and issubclass(tp, BaseModel) else []


def _unknown_key(key: str, value: Any, spot: _Spot) -> str:
    fields = _fields(spot.parent_tp)
    match = did_you_mean(key, fields) or (_SYNONYMS.get(key.lower()) if _SYNONYMS.get(
        key.lower()) in fields else None)
    if match:
        return f"unknown key '{key}'; did you mean '{match}'?"
    if value is None and "name" in fields:
        return (f"unknown key '{key}'; if it is the rest of a name that contains a comma, quote the "
                f"name (name: \"..., {key}\")")
    return f"unknown key '{key}'; allowed keys: {', '.join(fields)}"


def _literal(value: Any, key: Any, spot: _Spot) -> str:
    allowed = [str(a) for a in typing.get_args(_unwrap(spot.tp))]
    if key == "version" and spot.path == ["version"]:
        return f"config version {show(value)} is not supported by this netmon; write version: 1"
    match = did_you_mean(str(value), allowed) if isinstance(value, str) else None
    hint = f"; did you mean '{match}'?" if match else ""
    return f"{show(value, key)} is not allowed here; use one of: {', '.join(allowed)}{hint}"


def _kind_of(value: Any) -> str:
    return show(value) if isinstance(value, dict | list) or value is None else f"the value {show(value)}"


def message(err: dict[str, Any], spot: _Spot) -> str:
    """What is wrong and how to fix it, for one pydantic error."""
    kind, ctx, key = err["type"], err.get("ctx") or {}, spot.path[-1] if spot.path else None
    value = spot.node if spot.node is not _ABSENT else err.get("input")
    shown = show(value, key)
    simple = {
        "int_parsing": f"{shown} is not a whole number; write digits only",
        "int_type": f"{shown} is not a whole number; write digits only",
        "int_from_float": f"{shown} is not a whole number; drop the fraction",
        "float_parsing": f"{shown} is not a number; write e.g. 22.36",
        "float_type": f"{shown} is not a number; write e.g. 22.36",
        "finite_number": f"{shown} is not a finite number (.nan and .inf are refused); write e.g. 22.36",
        "bool_parsing": f"{shown} is not true or false; write true or false",
        "bool_type": f"{shown} is not true or false; write true or false",
        "string_type": f"expected text, got {_kind_of(value)}; put it in quotes if it is a name",
        "dict_type": f"expected a mapping (key: value lines), got {_kind_of(value)}",
        "model_type": f"expected a mapping (key: value lines), got {_kind_of(value)}",
        "model_attributes_type": f"expected a mapping (key: value lines), got {_kind_of(value)}",
        "list_type": f"expected a list (lines starting with '- '), got {_kind_of(value)}",
        "too_short": "needs at least one entry",
        "string_too_short": "must not be empty; write a value or remove the key",
        "greater_than_equal": f"{shown} is too small; use {ctx.get('ge')} or more",
        "greater_than": f"{shown} is too small; use a value above {ctx.get('gt')}",
        "less_than_equal": f"{shown} is too large; use {ctx.get('le')} or less",
        "less_than": f"{shown} is too large; use a value below {ctx.get('lt')}",
        "union_tag_not_found": f"required key 'prober' is missing; add prober: {_MISSING_HINTS['prober']}",
    }
    if kind in simple:
        return simple[kind]
    if kind == "missing":
        return f"required key '{key}' is missing; add {key}: {_MISSING_HINTS.get(str(key), '...')}"
    if kind == "extra_forbidden":
        return _unknown_key(str(key), value, spot)
    if kind == "literal_error":
        return _literal(value, key, spot)
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        match = did_you_mean(tag, ["icmp", "snmp", "tcp", "http"])
        hint = f"did you mean '{match}'? " if match else ""
        return f"prober '{tag}' is not known; {hint}use one of: icmp, snmp, tcp, http"
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern", "")).startswith("^https?"):
        return f"{shown} is not a web address; write it with http:// or https://"
    text = str(err.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    return text


def explain(exc: ValidationError, raw: Any, tp: Any, prefix: tuple[Any, ...] = ()) -> list[ConfigIssue]:
    """One issue per pydantic error, located through the raw YAML `raw` validated as `tp`."""
    issues = []
    for err in exc.errors(include_url=False):
        spot = _Spot(raw, tp, err["loc"], prefix)
        if isinstance(spot.node, MissingEnv):
            continue  # the unset variable is already reported on this line
        text = message(err, spot)
        drop = err["type"] in ("missing", "extra_forbidden")
        issues.append(ConfigIssue(spot.file, spot.line, spot.rendered(drop_last=drop), text))
    return issues
