"""What `lab up` writes next to the lab: the matching netmon config, its profiles, the ground truth.

The config points netmon at the lab's addresses with short intervals, so a run of a few minutes
shows the scenario's trouble; the ground truth says which villages should be flagged, with which
cause (link | upstream | power) and when, so end-to-end tests can compare.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from netmon.config.schema import AgentConfig, Profile, StabilityThresholds
from netmon.lab.plan import DevicePlan, LabPlan
from netmon.lab.scenario import Scenario, Trouble, resolve_target

MAX_WINDOWS = 500
"""Occurrences listed per periodic trouble (a 1 h lifetime at every: 10s is 360)."""

_SYSTEM = {"sys_descr": "1.3.6.1.2.1.1.1.0", "sys_uptime": "1.3.6.1.2.1.1.3.0", "sys_name": "1.3.6.1.2.1.1.5.0"}
_PC_GET = {**_SYSTEM, "hr_uptime": "1.3.6.1.2.1.25.1.1.0", "hr_memory_kb": "1.3.6.1.2.1.25.2.2.0"}
_WALKS = {
    "router": {"if_table": "1.3.6.1.2.1.2.2.1"},
    "cpe": {"if_table": "1.3.6.1.2.1.2.2.1"},
    "pc": {"hr_storage": "1.3.6.1.2.1.25.2.3.1", "hr_cpu_load": "1.3.6.1.2.1.25.3.3.1.2"},
}
_AGING = {"disk_used_pct": 90, "min_ram_mb": 4096, "cpu_load_pct": 85, "reboots_per_week": 3,
          "office_reachability_pct": 95, "eol_os": [r"Windows Version 5\.", r"Windows Version 6\.[0-3]",
                                                    "Windows 7", "Windows XP"]}


def profiles(scn: Scenario) -> dict[str, dict[str, Any]]:
    """Lab profiles by name: `<kind>` (ICMP + SNMP) and `<kind>-ping` (ICMP only, for devices without snmpd)."""
    s = scn.netmon
    icmp = {"name": "reachability", "prober": "icmp", "interval": s.icmp_interval, "count": s.icmp_count,
            "timeout": s.icmp_timeout, "packet_interval": 0.2}
    out: dict[str, dict[str, Any]] = {}
    for kind in ("router", "cpe", "bts", "pc"):
        coverage = kind != "pc"
        out[f"{kind}-ping"] = {"kind": f"{kind}-ping", "description": f"netmon lab: {kind}, reachability only",
                               "coverage": coverage, "checks": [icmp]}
        if kind == "bts":
            continue
        snmp = {"name": "system" if kind != "pc" else "host-resources", "prober": "snmp",
                "interval": s.snmp_interval, "timeout": s.snmp_timeout,
                "get": _PC_GET if kind == "pc" else _SYSTEM, "walk": _WALKS[kind]}
        out[kind] = {"kind": kind, "description": f"netmon lab: {kind}, short intervals", "coverage": coverage,
                     "checks": [icmp, snmp]}
        if kind == "pc":
            out[kind]["aging"] = _AGING
    out["bts"] = {**out["bts-ping"], "kind": "bts"}
    return out


def _device(dev: DevicePlan, parent: str | None) -> dict[str, Any]:
    entry: dict[str, Any] = {"name": dev.spec.name, "kind": dev.spec.kind, "host": dev.address}
    if dev.snmp == "none":
        if dev.spec.kind != "bts":  # the bts profile is reachability only already
            entry["profile"] = f"{dev.spec.kind}-ping"
    else:
        entry["auth"] = "lab-v2" if dev.snmp == "v2c" else "lab-v3"
    if parent:
        entry["parent"] = parent
    return entry


def _communes(plan: LabPlan, scn: Scenario) -> list[dict[str, Any]]:
    out = []
    for ci, com in enumerate(scn.communes):
        router = plan.router_site(ci).devices[0]
        devices = [_device(router, None)]
        devices += [_device(d, router.spec.name) for s in plan.office_sites(ci) for d in s.devices]
        villages = []
        for vi, vil in enumerate(com.villages):
            parent = router.spec.name if vil.attach == "router" else None
            entry: dict[str, Any] = {"name": vil.name}
            if vil.operator:
                entry["operator"] = vil.operator
            entry["devices"] = [_device(d, parent) for d in plan.village_site(ci, vi).devices]
            villages.append(entry)
        out.append({"name": com.name, "operator": com.operator, "devices": devices, "villages": villages})
    return out


def netmon_config(plan: LabPlan, scn: Scenario, run_dir: Path) -> dict[str, Any]:
    """The agent config for this lab, as plain data (validated against AgentConfig)."""
    s, v3 = scn.netmon, scn.snmp_v3
    data: dict[str, Any] = {
        "version": 1,
        "agent": {"name": f"nmlab-{plan.name}", "state_dir": str(run_dir / "state")},
        "analysis": {"evaluate_every": s.evaluate_every, "window_now": s.window_now,
                     "window_trend": s.window_trend, "raise_after": s.raise_after, "clear_after": s.clear_after},
        "auths": {
            "lab-v2": {"version": "2c", "community": scn.community},
            "lab-v3": {"version": "3", "user": v3.user, "auth": {"protocol": "sha", "key": v3.auth_key},
                       "priv": {"protocol": "aes", "key": v3.priv_key}},
        },
        "profiles": [str(run_dir / "probes")],
        "inventory": [{"name": scn.province, "communes": _communes(plan, scn)}],
    }
    AgentConfig.model_validate(data)
    return data


def _windows(t: Trouble, t0: float, lifetime_s: float) -> list[dict[str, float]]:
    starts = [t.at]
    if t.every is not None:
        starts = [t.at + n * t.every for n in range(MAX_WINDOWS) if t.at + n * t.every < lifetime_s]
    out = []
    for start in starts:
        end = min(start + t.duration, lifetime_s) if t.duration is not None else lifetime_s
        if start < lifetime_s:
            out.append({"start_s": start, "end_s": end, "start": t0 + start, "end": t0 + end})
    return out


def _severity(t: Trouble, scn: Scenario, limits: StabilityThresholds) -> str:
    if t.kind == "loss":
        pct = t.loss_pct or 0.0
        return "unstable" if pct > limits.unstable_loss_pct else "degraded" if pct > limits.degraded_loss_pct \
            else "minor"
    # An outage shorter than two probe rounds may fall between probes entirely.
    short = t.duration is not None and t.duration < 2 * scn.netmon.icmp_interval
    return "blip" if short else "down"


def ground_truth(plan: LabPlan, scn: Scenario, t0: float, lifetime_s: float, config: Path) -> dict[str, Any]:
    """Which villages (and communes) should be flagged, with which cause and when."""
    limits = StabilityThresholds()
    villages = {(ci, vi): [] for ci, com in enumerate(scn.communes) for vi in range(len(com.villages))}
    communes: dict[int, list[dict[str, Any]]] = {ci: [] for ci in range(len(scn.communes))}
    for t in scn.trouble:
        ci, vi, device = resolve_target(scn, t)  # type: ignore[misc] - validated at load
        base = {"kind": t.kind, "severity": _severity(t, scn, limits), "windows": _windows(t, t0, lifetime_s)}
        if t.kind == "loss":
            base["loss_pct"] = t.loss_pct
        if device:
            base["device"] = device
        if vi is not None:
            villages[(ci, vi)].append({**base, "cause": "power" if t.kind == "power" else "link"})
            continue
        communes[ci].append({**base, "cause": "power" if t.kind == "power" else "link"})
        for vj, vil in enumerate(scn.communes[ci].villages):
            if vil.attach == "router":
                villages[(ci, vj)].append({**base, "cause": "upstream", "via": scn.communes[ci].name})
    return {
        "lab": plan.name, "province": scn.province, "t0": t0, "lifetime_s": lifetime_s, "config": str(config),
        "agent_namespace": plan.agent_ns,
        "rules": {"flagged": "any trouble whose severity is unstable or down",
                  "unstable_loss_pct": limits.unstable_loss_pct, "degraded_loss_pct": limits.degraded_loss_pct},
        "villages": [_village_truth(plan, scn, ci, vi, troubles) for (ci, vi), troubles in villages.items()],
        "communes": [{"commune": scn.communes[ci].name, "router": plan.router_site(ci).devices[0].address,
                      "troubles": ts} for ci, ts in communes.items()],
    }


def _village_truth(plan: LabPlan, scn: Scenario, ci: int, vi: int, troubles: list[dict[str, Any]]) -> dict[str, Any]:
    com, vil = scn.communes[ci], scn.communes[ci].villages[vi]
    flagging = [t for t in troubles if t["severity"] in ("unstable", "down")]
    causes = list(dict.fromkeys(t["cause"] for t in sorted(flagging, key=lambda t: t["windows"][0]["start_s"]
                                                            if t["windows"] else 0)))
    return {"province": scn.province, "commune": com.name, "village": vil.name,
            "operator": vil.operator or com.operator, "attach": vil.attach,
            "devices": [{"name": d.spec.name, "kind": d.spec.kind, "host": d.address}
                        for d in plan.village_site(ci, vi).devices],
            "flagged": bool(flagging), "causes": causes, "troubles": troubles}


def write_profiles(folder: Path, scn: Scenario) -> None:
    """Write the lab profiles (validated) into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, data in profiles(scn).items():
        Profile.model_validate(data)
        (folder / f"{name}.yaml").write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True),
                                             encoding="utf-8")


def dump_yaml(data: Any) -> str:
    """YAML as netmon reads it (UTF-8 names kept readable)."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=120)
