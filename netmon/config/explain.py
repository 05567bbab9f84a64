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
from netmon.i18n import N_, _, current
from netmon.kinds.registry import names as kind_names

_ABSENT = object()
_SECRET_KEYS = frozenset({"community", "token", "password", "key"})
_SYNONYMS = {"province": "name", "commune": "name", "village": "name", "device": "name", "ip": "host",
             "address": "host", "hostname": "host", "type": "kind", "every": "interval",
             "lng": "lon", "long": "lon", "latitude": "lat", "longitude": "lon"}
_MISSING_HINTS = {"version": "1", "url": N_("http://... or https://..."),
                  "protocol": N_("sha, sha256, ... (auth) or aes, aes256, ... (priv); without it pysnmp "
                                 "silently uses MD5/DES"),
                  "kind": N_("router, cpe, bts, pc, service, camera or port"),
                  "checks": N_("a list of checks")}


def _probers_hint() -> str:
    """`icmp, snmp, tcp or http`: the registered kinds, for a missing `prober:`."""
    known = kind_names()
    return _("{some} or {last}").format(some=", ".join(known[:-1]), last=known[-1]) if len(known) > 1 \
        else "".join(known)


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
        return _("the value")
    if value is None:
        return _("an empty value")
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return _("a mapping")
    if isinstance(value, list):
        return _("a list")
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


_PLAIN: dict[int, tuple[Any, bool]] = {}
"""id(type) -> (type, answer): a 10^5-problem inventory asks about the same few schema types each time."""


def _plain_union(tp: Any) -> bool:
    """A union pydantic tries member by member (`str | list[OfficeSpan]`), not one told apart by `prober:`."""
    known = _PLAIN.get(id(tp))
    if known is not None and known[0] is tp:
        return known[1]
    inner = _unwrap(tp)
    members = typing.get_args(inner) if typing.get_origin(inner) in (typing.Union, types.UnionType) else ()
    answer = len(members) > 1 and not any("prober" in getattr(m, "model_fields", {}) for m in members)
    if len(_PLAIN) < 10_000:
        _PLAIN[id(tp)] = (tp, answer)
    return answer


def _member(tp: Any, label: str) -> Any:
    """The member of a union that pydantic's `loc` label names (`str`, `list[...]`), or None."""
    for member in typing.get_args(_unwrap(tp)):
        base = typing.get_origin(_unwrap(member)) or _unwrap(member)
        name = getattr(base, "__name__", "")
        if name and (label == name or label.startswith(name + "[")):
            return member
    return None


class _Spot:
    """Where a `loc` lands: file, line, the raw value (or _ABSENT) and the rendered path."""

    def __init__(self, raw: Any, tp: Any, loc: Sequence[Any], prefix: tuple[Any, ...]) -> None:
        node, self.tp, parent_tp = raw, tp, None
        self.file, self.line = getattr(raw, "file", ""), getattr(raw, "line", 0)
        self.path: list[Any] = list(prefix)
        self.check: tuple[int, Any] | None = None
        self.union: tuple[Any, ...] | None = None
        """The `loc` of the union value when pydantic named a member it tried (not a key of the YAML)."""
        self.mismatch = False
        """True when the error is only that the value is not of that member's shape."""
        for i, seg in enumerate(loc):
            if isinstance(seg, str) and _plain_union(self.tp) and not (isinstance(node, YDict) and seg in node):
                self.union = self.union or tuple(loc[:i])
                self.mismatch = i == len(loc) - 1
                self.tp = _member(self.tp, seg)
                continue
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
        _index, check = self.check
        name, prober = check.get("name"), check.get("prober")
        head = _("check '{name}'").format(name=name) if isinstance(name, str) else render_path(path[:2])
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
        return _("unknown key '{key}'; did you mean '{match}'?").format(key=key, match=match)
    if value is None and "name" in fields:
        return _("unknown key '{key}'; if it is the rest of a name that contains a comma, quote the "
                 "name (name: \"..., {key}\")").format(key=key)
    return _("unknown key '{key}'; allowed keys: {allowed}").format(key=key, allowed=", ".join(fields))


def _literal(value: Any, key: Any, spot: _Spot) -> str:
    allowed = [str(a) for a in typing.get_args(_unwrap(spot.tp))]
    if key == "version" and spot.path == ["version"]:
        return _("config version {value} is not supported by this netmon; write version: 1").format(
            value=show(value))
    match = did_you_mean(str(value), allowed) if isinstance(value, str) else None
    hint = _("; did you mean '{match}'?").format(match=match) if match else ""
    return _("{value} is not allowed here; use one of: {allowed}{hint}").format(
        value=show(value, key), allowed=", ".join(allowed), hint=hint)


def _kind_of(value: Any) -> str:
    return show(value) if isinstance(value, dict | list) or value is None else \
        _("the value {value}").format(value=show(value))


# pydantic's own messages are English whatever the language: netmon says what is wrong by the
# error's `type`. Placeholders: {value} the value as shown, {got} what was written instead,
# {limit} the bound from pydantic's `ctx`, {probers} the known probe kinds.
_BY_TYPE = {
    "int_parsing": N_("{value} is not a whole number; write digits only"),
    "int_type": N_("{value} is not a whole number; write digits only"),
    "int_from_float": N_("{value} is not a whole number; drop the fraction"),
    "float_parsing": N_("{value} is not a number; write e.g. 22.36"),
    "float_type": N_("{value} is not a number; write e.g. 22.36"),
    "finite_number": N_("{value} is not a finite number (.nan and .inf are refused); write e.g. 22.36"),
    "bool_parsing": N_("{value} is not true or false; write true or false"),
    "bool_type": N_("{value} is not true or false; write true or false"),
    "string_type": N_("expected text, got {got}; put it in quotes if it is a name"),
    "dict_type": N_("expected a mapping (key: value lines), got {got}"),
    "model_type": N_("expected a mapping (key: value lines), got {got}"),
    "model_attributes_type": N_("expected a mapping (key: value lines), got {got}"),
    "list_type": N_("expected a list (lines starting with '- '), got {got}"),
    "too_short": N_("needs at least one entry"),
    "too_long": N_("has too many entries; at most {limit}"),
    "string_too_short": N_("must not be empty; write a value or remove the key"),
    "greater_than_equal": N_("{value} is too small; use {limit} or more"),
    "greater_than": N_("{value} is too small; use a value above {limit}"),
    "less_than_equal": N_("{value} is too large; use {limit} or less"),
    "less_than": N_("{value} is too large; use a value below {limit}"),
    "union_tag_not_found": N_("required key 'prober' is missing; add prober: {probers}"),
    "date_from_datetime_parsing": N_("{value} is not a date; write YYYY-MM-DD, e.g. 2026-09-02"),
    "date_parsing": N_("{value} is not a date; write YYYY-MM-DD, e.g. 2026-09-02"),
    "date_type": N_("{value} is not a date; write YYYY-MM-DD, e.g. 2026-09-02"),
    "enum": N_("{value} is not allowed here; use one of: {limit}"),
}
_LIMIT = {"greater_than_equal": "ge", "greater_than": "gt", "less_than_equal": "le", "less_than": "lt",
          "too_long": "max_length", "enum": "expected"}


def message(err: dict[str, Any], spot: _Spot) -> str:
    """What is wrong and how to fix it, for one pydantic error."""
    kind, ctx, key = err["type"], err.get("ctx") or {}, spot.path[-1] if spot.path else None
    value = spot.node if spot.node is not _ABSENT else err.get("input")
    template = _BY_TYPE.get(kind)
    if template is not None:
        return _(template).format(value=show(value, key), got=_kind_of(value), limit=ctx.get(_LIMIT.get(kind, "")),
                                  probers=_probers_hint() if kind == "union_tag_not_found" else "")
    if kind == "missing":
        hint = _probers_hint() if key == "prober" else _(_MISSING_HINTS.get(str(key), "..."))
        return _("required key '{key}' is missing; add {key}: {hint}").format(key=key, hint=hint)
    if kind == "extra_forbidden":
        return _unknown_key(str(key), value, spot)
    if kind == "literal_error":
        return _literal(value, key, spot)
    if kind == "union_tag_invalid":
        tag = str(ctx.get("tag"))
        match = did_you_mean(tag, kind_names())
        hint = _("did you mean '{match}'? ").format(match=match) if match else ""
        return _("prober '{tag}' is not known; {hint}use one of: {allowed}").format(
            tag=tag, hint=hint, allowed=", ".join(kind_names()))
    if kind == "string_pattern_mismatch" and str(ctx.get("pattern", "")).startswith("^https?"):
        return _("{value} is not a web address; write it with http:// or https://").format(value=show(value, key))
    text = str(err.get("msg", ""))
    for prefix in ("Value error, ", "Assertion failed, "):
        text = text.removeprefix(prefix)
    if kind not in ("value_error", "assertion_error") and current() != "en":
        # A rarer pydantic check, in pydantic's English: say in the language that the value is refused,
        # and keep pydantic's words as the detail (netmon's own checks raise value_error, translated).
        return _("{value} is not accepted here (pydantic: {detail})").format(value=show(value, key), detail=text)
    return text


_SHAPE = frozenset({"string_type", "list_type", "dict_type", "model_type", "model_attributes_type", "int_type",
                    "float_type", "bool_type", "int_parsing", "float_parsing", "bool_parsing"})
"""Errors that only say a value is not of a union member's shape."""


def explain(exc: ValidationError, raw: Any, tp: Any, prefix: tuple[Any, ...] = ()) -> list[ConfigIssue]:
    """One issue per pydantic error, located through the raw YAML `raw` validated as `tp`."""
    found = [(err, _Spot(raw, tp, err["loc"], prefix)) for err in exc.errors(include_url=False)]
    # Office hours written as a list of spans are not also wrong for not being text: when one
    # member of a union says what is wrong inside the value, the others' "not my shape" goes.
    telling = {spot.union for _err, spot in found if spot.union is not None and not spot.mismatch}
    issues = []
    for err, spot in found:
        if isinstance(spot.node, MissingEnv):
            continue  # the unset variable is already reported on this line
        if spot.mismatch and spot.union in telling and err["type"] in _SHAPE:
            continue
        text = message(err, spot)
        drop = err["type"] in ("missing", "extra_forbidden")
        issues.append(ConfigIssue(spot.file, spot.line, spot.rendered(drop_last=drop), text))
    return issues
