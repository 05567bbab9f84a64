"""Portal vs. link: is a failing service down, or is it one commune's link? (issue 7)

The same service (a URL for http, host:port for tcp) checked from many communes is one logical
service with many vantage points. For each round (results in the same `window_s` window):

    every vantage point answered           -> ok
    some fail while others answer          -> link: likely those communes' links; they are named
    every vantage point fails              -> service_down

A vantage point is a place the checks leave from, not a device: every check of one agent leaves
from the agent's box, whatever commune its device is filed under, so comparing those devices
compares the same place with itself a second later. Until several agents check the same service
(`vantage_of` names each device's place), there is one vantage point; a round seen from one place
cannot tell a portal from a link: it says service_down when every check failed, intermittent when
some did, and never blames a commune's link. `vantages` in the row shows how much evidence there
was. Pure functions over (Device, ProbeResult) pairs; `pairs_from_store` is the one thin function
that reads a store.
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from netmon.model import Device, ProbeResult, Status

SERVICE_PROBERS = ("http", "tcp")
Pair = tuple[Device, ProbeResult]


class Verdict(enum.StrEnum):
    """What one round of one service says."""

    OK = "ok"
    LINK = "link"
    SERVICE_DOWN = "service_down"
    INTERMITTENT = "intermittent"
    """Some checks failed and others answered from the same place: no link to blame."""


VantageOf = Callable[[Device], str]


def one_place(device: Device) -> str:
    """The vantage point of a device checked by this agent: the agent's own box, the same for all."""
    return ""


@dataclass(frozen=True, slots=True)
class Vantage:
    """One device that checks a service, and what it saw in one round."""

    device_id: str
    province: str
    commune: str
    village: str
    status: Status
    reason: str


@dataclass(frozen=True, slots=True)
class ServiceRound:
    """The verdict for one service in one window."""

    service: str
    prober: str
    window_start_ts: float
    verdict: Verdict
    vantages: int
    failing: tuple[Vantage, ...] = ()

    @property
    def communes(self) -> tuple[str, ...]:
        """The communes whose vantage points failed, sorted, each once."""
        return tuple(sorted({v.commune for v in self.failing}))


@dataclass(frozen=True, slots=True)
class ServiceSummary:
    """One service over a period."""

    service: str
    prober: str
    vantages: int
    rounds: int
    availability_pct: float
    """Rounds in which the service answered at least one vantage point."""
    vantage_ok_pct: float
    """Results that were ok, over every vantage point (what users saw on average)."""
    response_p95_ms: float | None
    ok_rounds: int
    link_rounds: int
    service_down_rounds: int
    link_communes: tuple[str, ...] = ()
    """Communes named in at least one link round, most often first."""


@dataclass(frozen=True, slots=True)
class CommuneSummary:
    """One commune's view of all the services it checks, over a period."""

    province: str
    commune: str
    services: int
    results: int
    availability_pct: float
    response_p95_ms: float | None
    link_rounds: int
    """Rounds in which this commune failed while other communes reached the service."""
    service_down_rounds: int


@dataclass(frozen=True, slots=True)
class ServicesReport:
    """Everything `netmon report services` shows."""

    rounds: tuple[ServiceRound, ...]
    services: tuple[ServiceSummary, ...]
    communes: tuple[CommuneSummary, ...]


def service_key(device: Device, result: ProbeResult) -> str:
    """The logical service: the URL (http) or host:port (tcp), as the probe's sample tags say."""
    for sample in result.samples:
        server = sample.tags.get("server")
        if server and result.prober == "tcp" and sample.tags.get("port"):
            return f"{server}:{sample.tags['port']}"
        if server:
            return server
    if result.prober == "tcp":
        return f"{device.host or device.url or device.id}:{device.port or ''}"
    return device.url or device.host or device.id


def response_ms(result: ProbeResult) -> float | None:
    """The Telegraf `response_time` (seconds) of an ok result, in milliseconds."""
    if result.status is not Status.OK:
        return None
    for sample in result.samples:
        value = sample.fields.get("response_time")
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value) * 1000.0
    return None


def p95(values: Sequence[float]) -> float | None:
    """95th percentile by nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)]


def attribute_rounds(pairs: Iterable[Pair], window_s: float = 60.0,
                     vantage_of: VantageOf = one_place) -> list[ServiceRound]:
    """Give every (service, window) a verdict; the last result of each device's check in a window counts."""
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    latest: dict[tuple[str, str, int], dict[tuple[str, str], tuple[Device, ProbeResult]]] = defaultdict(dict)
    for device, result in pairs:
        if result.prober not in SERVICE_PROBERS:
            continue
        key = (result.prober, service_key(device, result), math.floor(result.ts / window_s))
        seen = latest[key].get((device.id, result.check))
        if seen is None or seen[1].ts <= result.ts:
            latest[key][(device.id, result.check)] = (device, result)
    rounds = [_verdict(prober, service, index * window_s, list(by_vantage.values()), vantage_of)
              for (prober, service, index), by_vantage in latest.items()]
    rounds.sort(key=lambda r: (r.service, r.window_start_ts))
    return rounds


def _verdict(prober: str, service: str, start_ts: float, seen: list[Pair], vantage_of: VantageOf) -> ServiceRound:
    failing = tuple(
        Vantage(d.id, d.province, d.commune, d.village, r.status, r.reason)
        for d, r in sorted(seen, key=lambda p: (p[0].commune, p[0].id)) if not r.up
    )
    places: dict[str, list[bool]] = defaultdict(list)
    for d, r in seen:
        places[vantage_of(d)].append(r.up)
    down_places = [p for p, ups in places.items() if not any(ups)]
    if not failing:
        verdict = Verdict.OK
    elif len(down_places) == len(places):
        verdict = Verdict.SERVICE_DOWN
    elif len(places) > 1 and down_places:
        verdict = Verdict.LINK  # unreachable from some places while others reach it
    else:
        verdict = Verdict.INTERMITTENT
    return ServiceRound(service, prober, start_ts, verdict, len(places), failing)


def summarize_services(pairs: Sequence[Pair], rounds: Sequence[ServiceRound],
                       vantage_of: VantageOf = one_place) -> list[ServiceSummary]:
    """Availability, p95 response time and verdict counts per service over the whole period."""
    results: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for device, result in pairs:
        if result.prober in SERVICE_PROBERS:
            results[(result.prober, service_key(device, result))].append((device, result))
    by_service: dict[tuple[str, str], list[ServiceRound]] = defaultdict(list)
    for rnd in rounds:
        by_service[(rnd.prober, rnd.service)].append(rnd)
    out = []
    for (prober, service), mine in sorted(by_service.items(), key=lambda kv: kv[0][1]):
        seen = results.get((prober, service), [])
        counts = _count(mine)
        link_communes: dict[str, int] = defaultdict(int)
        for rnd in mine:
            if rnd.verdict is Verdict.LINK:
                for commune in rnd.communes:
                    link_communes[commune] += 1
        out.append(ServiceSummary(
            service=service, prober=prober, vantages=len({vantage_of(d) for d, _ in seen}), rounds=len(mine),
            availability_pct=_pct(len(mine) - counts[Verdict.SERVICE_DOWN], len(mine)),
            vantage_ok_pct=_pct(sum(1 for _, r in seen if r.up), len(seen)),
            response_p95_ms=p95([ms for _, r in seen if (ms := response_ms(r)) is not None]),
            ok_rounds=counts[Verdict.OK], link_rounds=counts[Verdict.LINK],
            service_down_rounds=counts[Verdict.SERVICE_DOWN],
            link_communes=tuple(sorted(link_communes, key=lambda c: (-link_communes[c], c))),
        ))
    return out


def summarize_communes(pairs: Sequence[Pair], rounds: Sequence[ServiceRound]) -> list[CommuneSummary]:
    """Per commune: how often its checks of services worked, and how often its link was blamed."""
    seen: dict[tuple[str, str], list[Pair]] = defaultdict(list)
    for device, result in pairs:
        if result.prober in SERVICE_PROBERS:
            seen[(device.province, device.commune)].append((device, result))
    link: dict[tuple[str, str], int] = defaultdict(int)
    down: dict[tuple[str, str], int] = defaultdict(int)
    for rnd in rounds:
        if rnd.verdict is Verdict.LINK:
            for where in {(v.province, v.commune) for v in rnd.failing}:
                link[where] += 1
        elif rnd.verdict is Verdict.SERVICE_DOWN:
            for where in {(v.province, v.commune) for v in rnd.failing}:
                down[where] += 1
    out = []
    for where in sorted(seen):
        mine = seen[where]
        out.append(CommuneSummary(
            province=where[0], commune=where[1],
            services=len({(r.prober, service_key(d, r)) for d, r in mine}), results=len(mine),
            availability_pct=_pct(sum(1 for _, r in mine if r.up), len(mine)),
            response_p95_ms=p95([ms for _, r in mine if (ms := response_ms(r)) is not None]),
            link_rounds=link[where], service_down_rounds=down[where],
        ))
    return out


def services_report(pairs: Iterable[Pair], window_s: float = 60.0,
                    vantage_of: VantageOf = one_place) -> ServicesReport:
    """Rounds with verdicts plus the per-service and per-commune summaries, from one list of pairs."""
    pairs = list(pairs)
    rounds = attribute_rounds(pairs, window_s, vantage_of)
    return ServicesReport(tuple(rounds), tuple(summarize_services(pairs, rounds, vantage_of)),
                          tuple(summarize_communes(pairs, rounds)))


class ResultSource(Protocol):
    """The part of `netmon.store.Store` this module reads."""

    def iter_results(self, device_id: str | None = None, check: str | None = None,
                     since_ts: float | None = None, until_ts: float | None = None,
                     prober: str | None = None) -> Iterator[ProbeResult]:
        """Results matching every given filter, in time order."""
        ...


def pairs_from_store(store: ResultSource, devices: Iterable[Device], since_ts: float | None = None,
                     until_ts: float | None = None) -> list[Pair]:
    """Service results of `devices` (pass the service devices) joined with their device, in time order.

    One query per device uses the store's (device_id, ts) index; a query on prober and time
    alone would scan every result ever kept, on every redraw of the status view.
    """
    pairs: list[Pair] = []
    for device in devices:
        for result in store.iter_results(device_id=device.id, since_ts=since_ts, until_ts=until_ts):
            if result.prober in SERVICE_PROBERS:
                pairs.append((device, result))
    pairs.sort(key=lambda p: p[1].ts)
    return pairs


def _count(rounds: Iterable[ServiceRound]) -> dict[Verdict, int]:
    counts = dict.fromkeys(Verdict, 0)
    for rnd in rounds:
        counts[rnd.verdict] += 1
    return counts


def _pct(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 0.0
