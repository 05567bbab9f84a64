"""Flatten the inventory into `Device`s: derived ids, inherited operator/location, parents, checks.

Runs on whatever validated: when part of the inventory is broken, the devices that did validate
are still checked (duplicate ids, parents, profiles, auths), so one run reports every problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from netmon.config.errors import ConfigIssue
from netmon.config.explain import did_you_mean
from netmon.config.schema import DeviceSpec, Location, Profile, Province, SnmpAuth
from netmon.config.slugs import slug
from netmon.config.yamlload import YDict, YList
from netmon.i18n import N_, _
from netmon.kinds.registry import KINDS
from netmon.model import Device

_LEVELS = ("province", "commune", "village")
_LEVEL_NAME = {"province": N_("province name '{name}' has no letter or digit to build an id from; add Latin "
                              "letters or digits"),
               "commune": N_("commune name '{name}' has no letter or digit to build an id from; add Latin "
                             "letters or digits"),
               "village": N_("village name '{name}' has no letter or digit to build an id from; add Latin "
                             "letters or digits")}
_SAME_ID = {"province": N_(" (province names '{first}' and '{second}' give the same id)"),
            "commune": N_(" (commune names '{first}' and '{second}' give the same id)"),
            "village": N_(" (village names '{first}' and '{second}' give the same id)"),
            "device": N_(" (device names '{first}' and '{second}' give the same id)")}
_CHILDREN = ("communes", "villages")


@dataclass(slots=True)
class _Entry:
    """One device spec with everything it inherited and where it was written."""

    spec: DeviceSpec
    raw: YDict
    path: str
    names: tuple[str, str, str]
    scope: tuple[str, str, str]
    operator: str
    location: Location | None
    id: str = ""
    parent: str | None = None

    def issue(self, key: str | None, text: str) -> ConfigIssue:
        """An issue about this device, on the line of `key` when given."""
        line = self.raw.key_lines.get(key, self.raw.line) if key else self.raw.line
        return ConfigIssue(self.raw.file, line, f"{self.path}.{key}" if key else self.path, text)


def _try(model: type[BaseModel], raw: Any) -> Any:
    """Validate a piece whose errors were already reported, or give None."""
    try:
        return model.model_validate(raw)
    except ValidationError:
        return None


def _text(raw: YDict, key: str) -> str | None:
    value = raw.get(key)
    return str(value) if isinstance(value, str) and value else None


class _Walker:
    """Collects `_Entry`s from the inventory, in inventory order."""

    def __init__(self, issues: list[ConfigIssue]) -> None:
        self.issues = issues
        self.entries: list[_Entry] = []
        self.invalid: set[str] = set()
        """Slugs of devices that failed validation (already reported): a parent naming one is not a second error."""

    def level(self, raw: YDict, model: Any, depth: int, path: str,
              names: tuple[str, ...], scope: tuple[str, ...], operator: str, location: Any) -> None:
        """Visit one province, commune or village and everything below it."""
        name = _text(raw, "name")
        if name is None:
            return  # validation has reported it
        if not slug(name):
            self.issues.append(ConfigIssue(raw.file, raw.key_lines.get("name", raw.line), f"{path}.name",
                                           _(_LEVEL_NAME[_LEVELS[depth]]).format(name=name)))
            return
        names, scope = (*names, name), (*scope, slug(name))
        operator = _text(raw, "operator") or operator
        if depth > 0:
            if model is not None:
                location = model.location or location
            else:
                location = _try(Location, raw.get("location")) or location
            self.devices(raw, model, path, names, scope, operator, location)
        if depth < len(_CHILDREN):
            key = _CHILDREN[depth]
            children = raw.get(key)
            for i, child in enumerate(children if isinstance(children, YList) else ()):
                if isinstance(child, YDict):
                    sub = getattr(model, key)[i] if model is not None else None
                    self.level(child, sub, depth + 1, f"{path}.{key}[{i}]", names, scope, operator, location)

    def devices(self, raw: YDict, model: Any, path: str, names: tuple[str, ...],
                scope: tuple[str, ...], operator: str, location: Any) -> None:
        """Collect the devices listed directly under one commune or village."""
        devices = raw.get("devices")
        for i, item in enumerate(devices if isinstance(devices, YList) else ()):
            spec = model.devices[i] if model is not None else _try(DeviceSpec, item)
            if spec is None or not isinstance(item, YDict):
                name = item.get("name") if isinstance(item, YDict) else None
                if isinstance(name, str):
                    self.invalid.add(slug(name))
                continue
            where = f"{path}.devices[{i}]"
            if not slug(spec.name):
                line = item.key_lines.get("name", item.line)
                self.issues.append(ConfigIssue(item.file, line, f"{where}.name", _(
                    "device name '{name}' has no letter or digit to build an id from; add Latin letters or "
                    "digits").format(name=spec.name)))
                continue
            village = (names[2], scope[2]) if len(names) > 2 else ("", "")
            self.entries.append(_Entry(
                spec, item, where, (names[0], names[1], village[0]), (scope[0], scope[1], village[1]),
                spec.operator or operator, spec.location or location))


def _duplicates(entries: list[_Entry], issues: list[ConfigIssue]) -> None:
    seen: dict[str, _Entry] = {}
    for entry in entries:
        parts = [p for p in entry.scope if p] + [slug(entry.spec.name)]
        entry.id = "/".join(parts)
        first = seen.setdefault(entry.id, entry)
        if first is entry:
            continue
        mine, theirs = (*entry.names, entry.spec.name), (*first.names, first.spec.name)
        why = ""
        for level, a, b in zip((*_LEVELS, "device"), mine, theirs, strict=True):
            if a != b:
                why = _(_SAME_ID[level]).format(first=b, second=a)
                break
        issues.append(entry.issue(None, _("device id '{id}' is used twice, at {first} and {second}{why}; rename "
                                          "one").format(id=entry.id, first=f"{first.raw.file}:{first.raw.line}",
                                                        second=f"{entry.raw.file}:{entry.raw.line}", why=why)))


def _parents(entries: list[_Entry], issues: list[ConfigIssue], invalid: set[str]) -> None:
    by_scope: dict[tuple[str, str, str], dict[str, _Entry]] = {}
    by_id = {}
    for entry in entries:
        by_scope.setdefault(entry.scope, {}).setdefault(slug(entry.spec.name), entry)
        by_id.setdefault(entry.id, entry)
    for entry in entries:
        wanted = entry.spec.parent
        if wanted is None:
            continue
        village, commune = by_scope.get(entry.scope, {}), by_scope.get((*entry.scope[:2], ""), {})
        found = village.get(slug(wanted)) or commune.get(slug(wanted)) or by_id.get(wanted) \
            or by_id.get("/".join(slug(p) for p in wanted.split("/")))
        if found is not None:
            entry.parent = found.id
            continue
        if slug(wanted) in invalid or slug(wanted.rsplit("/", 1)[-1]) in invalid:
            continue  # it names a device whose own error is already reported
        nearby = [e.spec.name for e in (*village.values(), *commune.values())]
        match = did_you_mean(wanted, nearby)
        where = _("village '{village}' or commune '{commune}'").format(
            village=entry.names[2], commune=entry.names[1]) if entry.names[2] \
            else _("commune '{commune}'").format(commune=entry.names[1])
        hint = _("; did you mean '{match}'?").format(match=match) if match else \
            _("; write a device name from the same commune or a full id")
        issues.append(entry.issue("parent", _("parent '{parent}' matches no device in {where} and no device "
                                              "id{hint}").format(parent=wanted, where=where, hint=hint)))
    _cycles(entries, by_id, issues)


def _cycles(entries: list[_Entry], by_id: dict[str, _Entry], issues: list[ConfigIssue]) -> None:
    done: set[str] = set()
    for entry in entries:
        chain: list[str] = []
        node: _Entry | None = entry
        while node is not None and node.id not in done and node.id not in chain:
            chain.append(node.id)
            node = by_id.get(node.parent) if node.parent else None
        done.update(chain)
        if node is None or node.id not in chain:
            continue
        cycle = chain[chain.index(node.id):]
        if len(cycle) == 1:
            issues.append(node.issue("parent", _("a device cannot be its own parent; remove parent: or "
                                                 "name the device it depends on")))
            continue
        first = min((by_id[i] for i in cycle), key=entries.index)
        loop = " -> ".join(cycle[cycle.index(first.id):] + cycle[:cycle.index(first.id)] + [first.id])
        issues.append(first.issue("parent", _("parents form a cycle: {loop}; remove parent: from one of "
                                              "them").format(loop=loop)))


def _needs(entry: _Entry, name: str, profile: Profile, auths: Mapping[str, SnmpAuth]) -> list[ConfigIssue]:
    """What the device lacks for the checks of its profile, and unknown auth names."""
    spec, out = entry.spec, []
    probers = {c.prober for c in profile.checks}
    if spec.auth is not None and spec.auth not in auths:
        match = did_you_mean(spec.auth, auths)
        hint = _("did you mean '{match}'? ").format(match=match) if match else ""
        known = _("defined: {names}").format(names=", ".join(auths)) if auths else \
            _("auths: is empty; define it there")
        out.append(entry.issue("auth", _("auth '{auth}' is not defined under auths:; {hint}{known}").format(
            auth=spec.auth, hint=hint, known=known)))
    elif spec.auth is None and "snmp" in probers:
        snmp = ", ".join(c.name for c in profile.checks if c.prober == "snmp")
        known = _("one of: {names}").format(names=", ".join(auths)) if auths else \
            _("define one under auths: first")
        out.append(entry.issue(None, _("profile '{profile}' has snmp checks ({checks}), so the device needs "
                                       "auth: ({known})").format(profile=name, checks=snmp, known=known)))
    for prober in sorted(probers & KINDS.keys()):
        # "host+port" (tcp) takes the host from url: too, and its port is checked per check below.
        key = KINDS[prober].target.removesuffix("+port")
        if getattr(spec, key) is None and not (key == "host" and KINDS[prober].target == "host+port"
                                                and spec.url is not None):
            what = _("an IP address or host name") if key == "host" else _("http:// or https:// address")
            out.append(entry.issue(None, _("profile '{profile}' has {prober} checks, so the device needs "
                                           "{key}: ({what})").format(profile=name, prober=prober, key=key,
                                                                     what=what)))
    for check in profile.checks:
        kind = KINDS.get(check.prober)
        if kind is not None and kind.target == "host+port" and check.port is None and spec.port is None:
            out.append(entry.issue(None, _("check '{check}' ({prober}) of profile '{profile}' has no port; add "
                                           "port: to the device").format(check=check.name, prober=check.prober,
                                                                         profile=name)))
    return out


def _profiles(entries: list[_Entry], profiles: Mapping[str, Profile], broken: set[str],
              auths: Mapping[str, SnmpAuth], issues: list[ConfigIssue]) -> None:
    known = ", ".join(sorted({*profiles, *broken}))
    for entry in entries:
        spec = entry.spec
        name = spec.profile or spec.kind
        profile = profiles.get(name)
        if profile is not None:
            issues.extend(_needs(entry, name, profile, auths))
            continue
        if name in broken:
            continue
        match = did_you_mean(name, {*profiles, *broken})
        hint = _("did you mean '{match}'? ").format(match=match) if match else ""
        if spec.profile is not None:
            issues.append(entry.issue("profile", _("profile '{profile}' is not known; {hint}known: {known}").format(
                profile=name, hint=hint, known=known)))
        else:
            issues.append(entry.issue("kind", _("kind '{kind}' has no profile (probes/{kind}.yaml); {hint}set "
                                                "profile: to one of: {known}").format(kind=name, hint=hint,
                                                                                      known=known)))


def _device(entry: _Entry, parent: str | None) -> Device:
    spec, location = entry.spec, entry.location
    return Device(
        id=entry.id, name=spec.name, kind=spec.kind, profile=spec.profile or spec.kind,
        province=entry.names[0], commune=entry.names[1], village=entry.names[2],
        host=spec.host, url=spec.url, port=spec.port, snmp_port=spec.snmp_port, auth=spec.auth,
        parent=parent, operator=entry.operator,
        lat=location.lat if location else None, lon=location.lon if location else None)


def resolve_devices(raw_inventory: YList, provinces: list[Province] | None, profiles: Mapping[str, Profile],
                    broken_profiles: set[str], auths: Mapping[str, SnmpAuth],
                    issues: list[ConfigIssue]) -> list[Device]:
    """The enabled devices, in inventory order; problems go to `issues`."""
    walker = _Walker(issues)
    for i, raw in enumerate(raw_inventory):
        if isinstance(raw, YDict):
            model = provinces[i] if provinces is not None else None
            walker.level(raw, model, 0, f"inventory[{i}]", (), (), "", None)
    entries = walker.entries
    _duplicates(entries, issues)
    _parents(entries, issues, walker.invalid)
    _profiles(entries, profiles, broken_profiles, auths, issues)
    by_id = {e.id: e for e in reversed(entries)}
    devices = []
    for entry in entries:
        if not entry.spec.enabled:
            continue
        # A disabled parent is not probed: depend on the nearest enabled ancestor instead.
        parent, hops = by_id.get(entry.parent) if entry.parent else None, 0
        while parent is not None and not parent.spec.enabled and hops < len(entries):
            parent, hops = (by_id.get(parent.parent) if parent.parent else None), hops + 1
        devices.append(_device(entry, parent.id if parent is not None else None))
    return devices
