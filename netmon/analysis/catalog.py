"""What analysis needs to know about the inventory: villages, their coverage devices, parents, pacing.

Built from a loaded `Config` (daemon, reports) or from the devices the daemon synced into the
store (another process without the profiles), so both sides agree on village ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from netmon.config.slugs import slug
from netmon.model import Device

if TYPE_CHECKING:  # config models arrive in the bookkeeping process as plain bags (netmon/bags.py)
    from netmon.config.schema import AgentConfig, Profile, StabilityThresholds

DEFAULT_COVERAGE_KINDS = frozenset({"cpe", "bts", "router"})
DEFAULT_INTERVAL_S = 60.0


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """One device as the rollups see it."""

    id: str
    parent: str | None
    village_id: str | None
    """Set only for coverage devices placed in a village."""
    interval_s: float
    """ICMP round interval: how far apart a parent's and a child's rounds can be and still coincide."""
    pinged: bool = True
    """False when the device's (known) profile has no ICMP check: its interval is then only a default."""


@dataclass(slots=True)
class VillageInfo:
    """A village with coverage devices."""

    id: str
    province: str
    commune: str
    village: str
    operator: str = ""
    lat: float | None = None
    lon: float | None = None
    thresholds: StabilityThresholds | None = None
    devices: list[str] = field(default_factory=list)

    @property
    def commune_id(self) -> str:
        """`province/commune` id."""
        return self.id.rsplit("/", 1)[0]


@dataclass(slots=True)
class Catalog:
    """Devices and villages keyed by id."""

    devices: dict[str, DeviceInfo]
    villages: dict[str, VillageInfo]

    def ancestors(self, device_id: str) -> list[str]:
        """Parent, grandparent, ... of a device (stops at cycles, which the loader rejects anyway)."""
        out: list[str] = []
        info = self.devices.get(device_id)
        while info is not None and info.parent and info.parent not in out and info.parent != device_id:
            out.append(info.parent)
            info = self.devices.get(info.parent)
        return out


def village_id_of(device: Device) -> str | None:
    """`province/commune/village` for a village device, None for commune-level devices."""
    return device.id.rsplit("/", 1)[0] if device.village else None


def _village_thresholds(settings: AgentConfig | None) -> dict[str, StabilityThresholds]:
    out: dict[str, StabilityThresholds] = {}
    for province in settings.inventory if settings else ():
        for commune in province.communes:
            for village in commune.villages:
                if village.thresholds is not None:
                    key = "/".join(slug(n) for n in (province.name, commune.name, village.name))
                    out[key] = village.thresholds
    return out


def _village_operators(settings: AgentConfig | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for province in settings.inventory if settings else ():
        for commune in province.communes:
            for village in commune.villages:
                operator = village.operator or commune.operator or province.operator
                if operator:
                    out["/".join(slug(n) for n in (province.name, commune.name, village.name))] = operator
    return out


def is_coverage(device: Device, profile: Profile | None, configured_kinds: Iterable[str] | None = None) -> bool:
    """Does this device measure its village's coverage? One rule for analysis and the status view.

    `analysis.coverage_kinds`, when configured, decides alone; otherwise a profile that says
    `coverage: true` does, and so do the kinds that carry coverage whatever their profile
    (cpe, bts, router), so an ICMP-only profile on a village CPE still counts.
    """
    if configured_kinds is not None:
        return device.kind in configured_kinds
    return bool(profile is not None and profile.coverage) or device.kind in DEFAULT_COVERAGE_KINDS


def _interval(device: Device, profiles: Mapping[str, Profile] | None) -> float:
    profile = (profiles or {}).get(device.profile)
    icmp = [c for c in profile.checks if c.prober == "icmp"] if profile else []
    if not icmp:
        return DEFAULT_INTERVAL_S
    c = icmp[0]
    return c.interval + c.count * c.packet_interval + c.timeout


def _pinged(device: Device, profiles: Mapping[str, Profile] | None) -> bool:
    profile = (profiles or {}).get(device.profile)
    return profile is None or any(c.prober == "icmp" for c in profile.checks)


def build_catalog(devices: Iterable[Device], profiles: Mapping[str, Profile] | None = None,
                  settings: AgentConfig | None = None) -> Catalog:
    """The catalog of `devices`: their villages, and each device's parent and round interval."""
    kinds = settings.analysis.coverage_kinds if settings is not None else None

    def covers(d: Device) -> bool:
        return is_coverage(d, (profiles or {}).get(d.profile), kinds)

    thresholds, operators = _village_thresholds(settings), _village_operators(settings)
    infos: dict[str, DeviceInfo] = {}
    villages: dict[str, VillageInfo] = {}
    for d in devices:
        vid = village_id_of(d) if covers(d) else None
        infos[d.id] = DeviceInfo(d.id, d.parent, vid, _interval(d, profiles), _pinged(d, profiles))
        if vid is None:
            continue
        v = villages.get(vid)
        if v is None:
            v = villages[vid] = VillageInfo(vid, d.province, d.commune, d.village,
                                            operators.get(vid, d.operator), thresholds=thresholds.get(vid))
        if v.lat is None and d.lat is not None:
            v.lat, v.lon = d.lat, d.lon
        v.devices.append(d.id)
    return Catalog(infos, villages)


def catalog_from_config(config: object) -> Catalog:
    """Catalog of this agent's devices (`config.devices`), so it judges and emits only its own villages.

    Shards keep a commune and the parents its devices name on one agent, so every parent is among
    them; any ancestor that is not (a hand-made Config) is still added, as a device with no village,
    so that parents always resolve.
    """
    mine: list[Device] = list(config.devices)  # type: ignore[attr-defined]
    catalog = build_catalog(mine, config.profiles, config.settings)  # type: ignore[attr-defined]
    by_id: Mapping[str, Device] = config.device_by_id  # type: ignore[attr-defined]
    for d in mine:
        parent = by_id.get(d.parent) if d.parent else None
        while parent is not None and parent.id not in catalog.devices:
            catalog.devices[parent.id] = DeviceInfo(parent.id, parent.parent, None,
                                                    _interval(parent, config.profiles),  # type: ignore[attr-defined]
                                                    _pinged(parent, config.profiles))  # type: ignore[attr-defined]
            parent = by_id.get(parent.parent) if parent.parent else None
    return catalog


def catalog_for_devices(devices: Sequence[Device], kinds: Iterable[str] = DEFAULT_COVERAGE_KINDS) -> Catalog:
    """Catalog from the store's device list (no profiles): coverage by kind only."""
    from netmon.config.schema import AgentConfig as _Agent

    settings = _Agent.model_validate({"version": 1, "analysis": {"coverage_kinds": sorted(kinds)}})
    return build_catalog(devices, None, settings)
