"""The lab's scenario file: a virtual province (communes, villages, devices) and the trouble to inject.

Validated like the agent config: pydantic models that forbid unknown keys, then cross-checks
(names, trouble targets, address-plan limits), all reported together as `file:line: path: message`.

    load_scenario(path) -> Scenario     raises ConfigError listing every problem found
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, ValidationError, model_validator

from netmon.config.errors import ConfigError, ConfigIssue
from netmon.config.explain import did_you_mean, explain
from netmon.config.schema import Duration, Name, Strict, parse_duration
from netmon.config.yamlload import YDict, YList, load_yaml
from netmon.i18n import _

MAX_COMMUNES = 250
MAX_VILLAGES = 15
"""Per commune: each village gets a /28 of the commune's /24 (block 0 is the commune office)."""
MAX_DEVICES_PER_SITE = 14


def parse_offset(value: Any) -> float:
    """Like a duration, but zero is allowed (`at: 0s` means from the start)."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return 0.0
    if isinstance(value, str) and value.strip() in ("0", "0s", "0m", "0ms"):
        return 0.0
    return parse_duration(value)


Offset = Annotated[float, BeforeValidator(parse_offset)]
SnmpMode = Literal["v2c", "v3", "none"]


class V3User(Strict):
    user: Name = "netmon"
    auth_key: Annotated[str, Field(min_length=8)] = "nmlab-auth-key"
    priv_key: Annotated[str, Field(min_length=8)] = "nmlab-priv-key"


class NetmonSettings(Strict):
    """Settings of the generated netmon config: short intervals for a run of a few minutes."""

    icmp_interval: Duration = 5.0
    icmp_count: int = Field(default=5, ge=1, le=100)
    icmp_timeout: Duration = 1.0
    snmp_interval: Duration = 15.0
    snmp_timeout: Duration = 2.0
    evaluate_every: Duration = 30.0
    window_now: Duration = 600.0
    window_trend: Duration = 3600.0
    raise_after: int = Field(default=2, ge=1)
    clear_after: int = Field(default=2, ge=1)


class LabDevice(Strict):
    name: Name
    kind: Literal["router", "cpe", "bts", "pc"]
    snmp: SnmpMode | None = None
    """Default: none for a bts (reachability only), v2c for everything else."""
    sys_descr: str | None = None
    """What snmpd reports as sysDescr, e.g. an old Windows string for the PC-aging list."""

    @property
    def snmp_mode(self) -> SnmpMode:
        """The SNMP version this device's snmpd answers, or none (no snmpd)."""
        if self.snmp is not None:
            return self.snmp
        return "none" if self.kind == "bts" else "v2c"


class LabVillage(Strict):
    name: Name
    operator: str | None = None
    attach: Literal["router", "agent"] = "router"
    """`router`: behind the commune router (its parent); `agent`: a 4G link reached directly."""
    devices: list[LabDevice] = Field(min_length=1)


class LabCommune(Strict):
    name: Name
    operator: str = "VNPT"
    devices: list[LabDevice] = Field(min_length=1)
    """Exactly one router (the commune office router) plus any office PCs."""
    villages: list[LabVillage] = Field(default_factory=list)


class Trouble(Strict):
    kind: Literal["loss", "outage", "power", "upstream"]
    commune: str | None = None
    village: str | None = None
    device: str | None = None
    loss_pct: float | None = Field(default=None, gt=0, le=100)
    protocols: list[Literal["icmp", "snmp"]] = Field(default_factory=lambda: ["icmp", "snmp"], min_length=1)
    at: Offset = 0.0
    """Seconds after the trouble supervisor starts."""
    duration: Duration | None = None
    """How long each occurrence lasts; none means until the lab goes down."""
    every: Duration | None = None
    """Repeat period: down for `duration` every `every` seconds, starting at `at`."""

    @model_validator(mode="after")
    def _shape(self) -> Trouble:
        if self.kind == "loss" and self.loss_pct is None:
            raise ValueError(_("a loss trouble needs loss_pct: (percent of packets dropped, e.g. 20)"))
        if self.kind != "loss" and self.loss_pct is not None:
            raise ValueError(_("loss_pct: only applies to kind loss, not {kind}").format(kind=self.kind))
        if self.every is not None and (self.duration is None or self.duration >= self.every):
            raise ValueError(_("every: needs a duration: shorter than the period (e.g. every: 120s, duration: 30s)"))
        if self.kind == "upstream" and (self.village or self.device or not self.commune):
            raise ValueError(_("an upstream trouble takes commune: only (its router's uplink goes down)"))
        if self.kind in ("outage", "power") and self.device:
            raise ValueError(_("a {kind} trouble takes village: (or commune: for power), not device:").format(
                kind=self.kind))
        if self.kind == "outage" and not self.village:
            raise ValueError(_("an outage trouble needs village: (use kind upstream for a commune's uplink)"))
        if self.kind == "loss" and not (self.village or self.device):
            raise ValueError(_("a loss trouble needs village: or device:"))
        if self.kind == "power" and not (self.village or self.commune):
            raise ValueError(_("a power trouble needs village: or commune:"))
        return self

    def active(self, t_s: float) -> bool:
        """True when this trouble is in effect `t_s` seconds after the supervisor started."""
        if t_s < self.at:
            return False
        since = t_s - self.at
        if self.every is not None:
            since %= self.every
        return self.duration is None or since < self.duration


class Scenario(Strict):
    lab: Literal[1]
    province: Name = "Lab"
    description: str = ""
    community: Annotated[str, Field(min_length=1)] = "nmlab"
    snmp_v3: V3User = V3User()
    lifetime: Duration = 3600.0
    """How long the trouble supervisor runs before it exits on its own."""
    netmon: NetmonSettings = NetmonSettings()
    communes: list[LabCommune] = Field(min_length=1, max_length=MAX_COMMUNES)
    trouble: list[Trouble] = Field(default_factory=list)


def _site_issues(scn: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    """Names, router counts and address-plan limits, as (loc, message)."""
    out: list[tuple[tuple[Any, ...], str]] = []
    seen_communes: set[str] = set()
    for ci, com in enumerate(scn.communes):
        loc = ("communes", ci)
        if com.name in seen_communes:
            out.append(((*loc, "name"), _("commune '{name}' appears twice; names must be unique").format(
                name=com.name)))
        seen_communes.add(com.name)
        routers = [d for d in com.devices if d.kind == "router"]
        if len(routers) != 1:
            out.append(((*loc, "devices"), _("needs exactly one device of kind router (the commune office router), "
                                             "found {n}").format(n=len(routers))))
        for di, dev in enumerate(com.devices):
            if dev.kind not in ("router", "pc"):
                out.append(((*loc, "devices", di, "kind"), _("a commune office holds a router and pcs; put the "
                                                             "{kind} '{name}' in a village").format(
                                                                 kind=dev.kind, name=dev.name)))
        if len(com.devices) > MAX_DEVICES_PER_SITE:
            out.append(((*loc, "devices"), _("at most {n} devices per site").format(n=MAX_DEVICES_PER_SITE)))
        if len(com.villages) > MAX_VILLAGES:
            out.append(((*loc, "villages"), _("at most {n} villages per commune in the lab").format(n=MAX_VILLAGES)))
        out += _name_issues(com, loc, routers[0].name if routers else None)
    return out


def _name_issues(com: LabCommune, loc: tuple[Any, ...], router: str | None) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    names = [d.name for d in com.devices]
    for di, name in enumerate(names):
        if names.index(name) != di:
            out.append(((*loc, "devices", di, "name"), _("device '{name}' appears twice in this site").format(
                name=name)))
    seen: set[str] = set()
    for vi, vil in enumerate(com.villages):
        if vil.name in seen:
            out.append(((*loc, "villages", vi, "name"), _("village '{name}' appears twice in this commune").format(
                name=vil.name)))
        seen.add(vil.name)
        if len(vil.devices) > MAX_DEVICES_PER_SITE:
            out.append(((*loc, "villages", vi, "devices"), _("at most {n} devices per site").format(
                n=MAX_DEVICES_PER_SITE)))
        vnames = [d.name for d in vil.devices]
        for di, name in enumerate(vnames):
            dloc = (*loc, "villages", vi, "devices", di, "name")
            if vnames.index(name) != di:
                out.append((dloc, _("device '{name}' appears twice in this site").format(name=name)))
            elif name == router:
                out.append((dloc, _("'{name}' is the commune router's name; a village device needs its own name so "
                                    "that parent: finds the router").format(name=name)))
    return out


def resolve_target(scn: Scenario, t: Trouble) -> tuple[int, int | None, str | None] | str:
    """(commune index, village index or None, device name or None) for a trouble, or an error text."""
    communes = [ci for ci, c in enumerate(scn.communes) if t.commune in (None, c.name)]
    if not communes:
        return _("no commune named '{name}'").format(name=t.commune)
    if t.village is None:
        if len(communes) != 1:
            return _("name the commune: (commune-level trouble)")
        com = scn.communes[communes[0]]
        if t.device is not None and t.device not in [d.name for d in com.devices]:
            return _("commune '{commune}' has no office device named '{device}'").format(commune=com.name,
                                                                                       device=t.device)
        return (communes[0], None, t.device)
    hits = [(ci, vi) for ci in communes for vi, v in enumerate(scn.communes[ci].villages) if v.name == t.village]
    if not hits:
        text = _("no village named '{village}' in commune '{commune}'") if t.commune else \
            _("no village named '{village}'")
        close = did_you_mean(t.village, [v.name for ci in communes for v in scn.communes[ci].villages])
        return text.format(village=t.village, commune=t.commune) + (
            _("; did you mean '{match}'?").format(match=close) if close else "")
    if len(hits) > 1:
        names = ", ".join(scn.communes[ci].name for ci, _vi in hits)
        return _("village '{village}' exists in several communes ({names}); add commune:").format(
            village=t.village, names=names)
    ci, vi = hits[0]
    village = scn.communes[ci].villages[vi]
    if t.device is not None and t.device not in [d.name for d in village.devices]:
        return _("village '{village}' has no device named '{device}'").format(village=t.village, device=t.device)
    return (ci, vi, t.device)


def _trouble_issues(scn: Scenario) -> list[tuple[tuple[Any, ...], str]]:
    out: list[tuple[tuple[Any, ...], str]] = []
    for ti, t in enumerate(scn.trouble):
        target = resolve_target(scn, t)
        if isinstance(target, str):
            key = "village" if t.village else "device" if t.device else "commune"
            out.append((("trouble", ti, key), target))
        elif t.kind == "loss" and target[2] is not None and target[1] is None:
            out.append((("trouble", ti, "device"), _("loss on an office device is not supported; target a village "
                                                     "or a village device")))
    return out


def _locate(raw: Any, loc: tuple[Any, ...]) -> tuple[str, int]:
    node, file, line = raw, getattr(raw, "file", ""), getattr(raw, "line", 0)
    for seg in loc:
        if isinstance(node, YDict) and seg in node:
            line, node = node.key_lines.get(seg, line), node[seg]
        elif isinstance(node, YList) and isinstance(seg, int) and seg < len(node):
            line, node = node.item_lines[seg], node[seg]
        else:
            break
    return file, line


def _path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{s}]" if isinstance(s, int) else f".{s}" for s in loc).lstrip(".")


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # pragma: no cover - other drive on Windows
        return str(path)


def load_scenario(path: str | Path) -> Scenario:
    """Read and validate a scenario file; raise ConfigError listing every problem."""
    issues: list[ConfigIssue] = []
    raw = load_yaml(Path(path), _display, os.environ, issues)
    if issues:
        raise ConfigError(issues)
    if not isinstance(raw, YDict):
        raise ConfigError([ConfigIssue(_display(Path(path)), 1, "", _("a scenario is a mapping; start with "
                                                                       "lab: 1 and communes:"))])
    try:
        scn = Scenario.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(explain(exc, raw, Scenario)) from None
    problems = _site_issues(scn) + _trouble_issues(scn)
    if problems:
        found = []
        for loc, text in problems:
            file, line = _locate(raw, loc)
            found.append(ConfigIssue(file, line, _path(loc), text))
        raise ConfigError(found)
    return scn
