"""`netmon probe NAME|ID|HOST`, the view: which device a target names, and each result explained.

Beside each result it shows the limits that decide what analysis will make of it (village
loss/RTT thresholds for pings, the aging rules for an office PC). Running the probers is the
command's part (netmon.probe_cmd, app layer): the ui layer renders, it does not probe.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from netmon import i18n
from netmon.config.schema import StabilityThresholds, check_host
from netmon.config.slugs import slug
from netmon.errors import ConfigurationError
from netmon.i18n import N_, _, display
from netmon.i18n import localise as loc
from netmon.model import Device, ProbeResult, Status
from netmon.secrets import mask

_STATUS_STYLE = {Status.OK: "green"}
BARE_PROFILE = "ping"


class TargetError(ConfigurationError):
    """The target named no device and is no host; the message says what to type instead."""


def find_device(config: Any, target: str) -> Device:
    """A device by id, name or host; a bare host becomes an ad-hoc device with the `ping` profile."""
    devices: Sequence[Device] = config.all_devices
    if target in config.device_by_id:
        return config.device_by_id[target]
    for matches in ([d for d in devices if d.name == target],
                    [d for d in devices if slug(d.name) == slug(target)],
                    [d for d in devices if d.host == target or d.url == target]):
        if len(matches) == 1:
            return matches[0]
        if matches:
            ids = "\n  ".join(d.id for d in matches)
            raise TargetError(_("'{target}' matches {n} devices; give one of their ids:\n  {ids}").format(
                target=target, n=len(matches), ids=ids))
    try:
        host = check_host(target)
        # A dot-less word is far more likely a mistyped device name than a host: say so
        # instead of sending a name lookup out for it.
        if "." not in host and ":" not in host:
            raise ValueError(host)
    except ValueError:
        words = {d.name for d in devices} | {d.id for d in devices}
        near = sorted(set(difflib.get_close_matches(target, words, n=8, cutoff=0.6))
                      | {d.id for d in devices if slug(target) and slug(target) in d.id})[:10]
        hint = (_("; did you mean one of:") + "\n  " + "\n  ".join(near)) if near else ""
        raise TargetError(_("no device with id, name or host '{target}', and it is not a host").format(target=target)
                          + hint) from None
    if BARE_PROFILE not in config.profiles:
        raise TargetError(_("'{target}' is not in the inventory and no '{profile}' profile is loaded").format(
            target=target, profile=BARE_PROFILE))
    return Device(id=host, name=host, kind=BARE_PROFILE, profile=BARE_PROFILE, province="", commune="",
                  village="", host=host)


def village_thresholds(config: Any, device: Device) -> StabilityThresholds:
    """The stability thresholds of the device's village (its own, else the agent's)."""
    default = config.settings.analysis.thresholds
    for province in config.settings.inventory:
        for commune in province.communes if province.name == device.province else ():
            for village in commune.villages if commune.name == device.commune else ():
                if village.name == device.village and village.thresholds is not None:
                    return village.thresholds
    return default


def explain(config: Any, device: Device, result: ProbeResult) -> list[str]:
    """Lines saying which limits apply to this result and how it compares."""
    fields = {k: v for s in result.samples for k, v in s.fields.items()}
    if result.prober == "icmp":
        t = village_thresholds(config, device)
        loss, rtt = fields.get("percent_packet_loss"), fields.get("maximum_response_ms")
        lines = [_("village degraded: loss > {loss} %, p95 > {rtt} ms, avail < {avail} %").format(
                     loss=loc(f"{t.degraded_loss_pct:g}"), rtt=loc(f"{t.degraded_rtt_p95_ms:g}"),
                     avail=loc(f"{t.degraded_availability_pct:g}")),
                 _("village unstable: loss > {loss} %, p95 > {rtt} ms, avail < {avail} %, >= {outages} outages")
                 .format(loss=loc(f"{t.unstable_loss_pct:g}"), rtt=loc(f"{t.unstable_rtt_p95_ms:g}"),
                         avail=loc(f"{t.unstable_availability_pct:g}"), outages=t.unstable_outages)]
        if isinstance(loss, int | float):
            verdict = (_("within the good limits") if loss <= t.degraded_loss_pct and (
                not isinstance(rtt, int | float) or rtt <= t.degraded_rtt_p95_ms) else
                _("over the degraded limits") if loss <= t.unstable_loss_pct else _("over the unstable limits"))
            rtt_text = _(", max RTT {rtt} ms").format(rtt=loc(f"{rtt:.1f}")) if isinstance(rtt, int | float) else ""
            lines.append(_("this probe: loss {loss} %{rtt}: {verdict}").format(
                loss=loc(f"{loss:g}"), rtt=rtt_text, verdict=verdict))
        return lines
    profile = config.profiles.get(device.profile)
    aging = getattr(profile, "aging", None)
    if result.prober == "snmp" and aging is not None:
        from netmon.analysis.aging import OfficeHours, score_pc

        lines = [_("PC aging: disk >= {disk} %, RAM < {ram} MB, CPU >= {cpu} %, >= {boots} boots/week, "
                   "{eol} end-of-life OS patterns").format(
                     disk=loc(f"{aging.disk_used_pct:g}"), ram=aging.min_ram_mb, cpu=loc(f"{aging.cpu_load_pct:g}"),
                     boots=aging.reboots_per_week, eol=len(aging.eol_os))]
        agent = config.settings.agent
        office = OfficeHours(agent.office_hours, agent.timezone, getattr(agent, "public_holidays", ()))
        health = score_pc(device.id, [result], aging, time.time(), office)
        lines.append(_("this probe: aging score {score}").format(score=health.score)
                     + (f": {'; '.join(health.reasons)}" if health.reasons else _(": no aging problem found")))
        return lines
    return []


def show_results(config: Any, device: Device, results: Sequence[ProbeResult], elapsed_s: float, fmt: str,
                 console: Console) -> None:
    """Print the results of `netmon probe` as text (with the limits that apply) or JSON."""
    if fmt == "json":
        with i18n.language("en"):  # JSON is for programs: the same words and numbers in every language
            notes = [explain(config, device, r) for r in results]
        # masked: a value from the environment (a host, a name) never prints, nor a key in a reason
        console.out(mask(json.dumps(_as_json(device, results, notes, elapsed_s), ensure_ascii=False, indent=2)),
                    highlight=False)
    else:
        _print_text(console, device, results, [explain(config, device, r) for r in results], elapsed_s)


def _as_json(device: Device, results: Sequence[ProbeResult], notes: Sequence[list[str]],
             elapsed_s: float) -> dict[str, Any]:
    return {
        "device": {"id": device.id, "name": device.name, "kind": device.kind, "profile": device.profile,
                   "target": device.target, "province": device.province, "commune": device.commune,
                   "village": device.village, "operator": device.operator},
        "elapsed_s": round(elapsed_s, 3),
        "results": [{"check": r.check, "prober": r.prober, "status": r.status.value, "reason": r.reason,
                     "ts": r.ts, "duration_s": round(r.duration_s, 4), "thresholds": note,
                     "samples": [{"measurement": s.measurement, "tags": dict(s.tags), "fields": dict(s.fields)}
                                 for s in r.samples]}
                    for r, note in zip(results, notes, strict=True)],
    }


def _print_text(console: Console, device: Device, results: Sequence[ProbeResult],
                notes: Sequence[list[str]], elapsed_s: float) -> None:
    place = " / ".join(display(p) for p in (device.province, device.commune, device.village) if p)
    console.print(Text(mask(f"{display(device.name)} ({device.id}) · {device.kind} · "
                            + _("profile {name}").format(name=device.profile) + f" · {device.target}"
                            + (f" · {place}" if place else "")), style="bold"))
    table = Table(box=None, pad_edge=False, show_header=True, header_style="bold")
    for title in (N_("check"), N_("prober"), N_("result"), N_("time"), N_("reason")):
        table.add_column(_(title), overflow="fold", no_wrap=title != "reason")
    for r, note in zip(results, notes, strict=True):
        symbol = "✓" if r.up else "✗"
        table.add_row(r.check, r.prober, Text(f"{symbol} {_(r.status.value)}",
                                              style=_STATUS_STYLE.get(r.status, "red")),
                      _duration(r.duration_s), mask(reason_words(r.reason)))
        for line in note:
            table.add_row("", "", "", "", Text(line, style="dim"))
    console.print(table)
    ok = sum(r.up for r in results)
    console.print(Text(_("{ok}/{total} checks ok in {time}").format(ok=ok, total=len(results),
                                                                    time=_duration(elapsed_s)),
                       style="green" if ok == len(results) else "bold red"))


_REPLIES = re.compile(r"(\d+)/(\d+) replies, avg ([\d.]+) ms")
_NO_REPLY = re.compile(r"0/(\d+) replies within (\S+?)(; .*)?")


def reason_words(reason: str) -> str:
    """A prober's reason in the language in use, where it has a known shape (the ping summaries).

    Probers write their reasons in English (they are stored and logged); the text view translates
    the common ones here, and the JSON output keeps them as stored.
    """
    if match := _REPLIES.fullmatch(reason):
        got, sent, avg = match.groups()
        return _("{got}/{sent} replies, avg {avg} ms").format(got=got, sent=sent, avg=loc(avg))
    if match := _NO_REPLY.fullmatch(reason):
        sent, timeout, rest = match.groups()
        return _("0/{sent} replies within {timeout}").format(sent=sent, timeout=loc(timeout)) + (rest or "")
    return reason


def _duration(seconds: float) -> str:
    return loc(f"{seconds * 1000:.1f} ms") if seconds < 1 else loc(f"{seconds:.2f} s")


# Status values as shown (the enum's values stay the machine words in JSON).
_STATUS_WORDS = (N_("ok"), N_("timeout"), N_("refused"), N_("unreachable"), N_("auth_failed"), N_("mismatch"),
                 N_("error"))


__all__ = ["TargetError", "explain", "find_device", "show_results"]
