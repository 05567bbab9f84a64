"""Services judged from many vantage points: down, or one commune's link?

Each agent is one vantage point (every check of one agent leaves from its box). When several
agents check the same service (same URL for HTTP, host:port for TCP), their results in one round
(a window as long as the check interval) are combined:

    every vantage point reaches it                 -> ok
    fails from every vantage point                 -> down
    fails from most (more than half, of 3 or more) -> down (a few places still get through)
    fails from some while the others reach it      -> link: the failing places' links
    seen from one place only and failing           -> down (seen from one place): cannot tell

The rule compares places, never a tuned threshold: a minority failing while the majority reaches
the service is evidence against the service being down, and for those places' links.
"""

from __future__ import annotations

import enum
import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from netmon.central.influxql import InfluxQL
from netmon.central.province import time_range


class Verdict(enum.StrEnum):
    """The central verdict of one service in one round."""

    OK = "ok"
    DOWN = "down"
    DOWN_ONE_PLACE = "down_one_place"
    LINK = "link"


@dataclass(frozen=True, slots=True)
class Place:
    """A vantage point: an agent, and the communes its checks of this service are filed under."""

    agent: str
    communes: tuple[str, ...]

    def label(self) -> str:
        """`Sìn Hồ (agent dong)`."""
        return f"{', '.join(self.communes) or '?'} (agent {self.agent})"


@dataclass(frozen=True, slots=True)
class Judgement:
    """One service in one round: the verdict and the places behind it."""

    service: str
    prober: str
    round_ts: float
    verdict: Verdict
    failing: tuple[Place, ...]
    reaching: tuple[Place, ...]

    @property
    def text(self) -> str:
        """The sentence an operator reads."""
        f, r = self.failing, self.reaching
        if self.verdict is Verdict.OK:
            return f"reached from every vantage point ({len(r)})"
        if self.verdict is Verdict.DOWN_ONE_PLACE:
            return "service down (seen from one place)"
        if self.verdict is Verdict.DOWN and not r:
            return f"fails from every vantage point ({len(f)}): service down"
        if self.verdict is Verdict.DOWN:
            return (f"fails from {len(f)} of {len(f) + len(r)} vantage points: service down "
                    f"(still reached from {_join(p.label() for p in r)})")
        names = _join(", ".join(p.communes) or p.agent for p in f)
        blame = f"{names}'s link" if len(f) == 1 else f"the links of {names}"
        return f"fails from {names} only while {_join(p.label() for p in r)} {'reach' if len(r) > 1 else 'reaches'} " \
            f"it: {blame}"


def _join(items: Iterable[str]) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def judge(service: str, prober: str, round_ts: float, seen: dict[str, tuple[bool, set[str]]]) -> Judgement:
    """The verdict of one round from each agent's outcome: agent -> (reached, communes)."""
    failing = tuple(Place(a, tuple(sorted(c))) for a, (ok, c) in sorted(seen.items()) if not ok)
    reaching = tuple(Place(a, tuple(sorted(c))) for a, (ok, c) in sorted(seen.items()) if ok)
    n, f = len(seen), len(failing)
    if f == 0:
        verdict = Verdict.OK
    elif n == 1:
        verdict = Verdict.DOWN_ONE_PLACE
    elif f == n or (n >= 3 and 2 * f > n):
        verdict = Verdict.DOWN
    else:
        verdict = Verdict.LINK
    return Judgement(service, prober, round_ts, verdict, failing, reaching)


@dataclass(frozen=True, slots=True)
class ServiceVerdict:
    """One service over the period: its latest round and how the rounds went."""

    service: str
    prober: str
    vantages: int
    rounds: int
    ok_rounds: int
    link_rounds: int
    down_rounds: int
    latest: Judgement
    links_blamed: tuple[str, ...]
    """Places whose link was blamed in at least one round, most often first."""


LATEST_WINDOWS = 2.0
"""How many check intervals an agent's newest result may lag the newest of all and still count now."""
_QUERIES = (("http", "http_response", ('"server"',)), ("tcp", "net_response", ('"server"', '"port"')))


def service_verdicts(client: InfluxQL, start_ts: float, end_ts: float, window_s: float) -> list[ServiceVerdict]:
    """Judge every service checked in [start, end] round by round, from every agent's forwarded results."""
    if window_s <= 0:
        raise ValueError("window_s must be positive")
    # (prober, service, round) -> agent -> (ts, ok, communes): the latest result of each agent counts.
    rounds: dict[tuple[str, str, int], dict[str, tuple[float, bool, set[str]]]] = defaultdict(dict)
    newest: dict[tuple[str, str], dict[str, tuple[float, bool, set[str]]]] = defaultdict(dict)
    for prober, measurement, keys in _QUERIES:
        q = (f'SELECT "result_code" FROM "{measurement}" WHERE {time_range(start_ts, end_ts)} '
             f'GROUP BY "agent", "commune", {", ".join(keys)}')
        for row in client.rows(q):
            t = row.tags
            service = f"{t.get('server', '')}:{t.get('port', '')}" if prober == "tcp" else t.get("server", "")
            key = (prober, service, math.floor(row.ts / window_s))
            agent, ok = t.get("agent", ""), row.values.get("result_code") == 0
            seen = rounds[key].get(agent)
            communes = seen[2] if seen else set()
            if t.get("commune"):
                communes.add(t["commune"])
            if seen is None or seen[0] <= row.ts:
                rounds[key][agent] = (row.ts, ok, communes)
            last = newest[(prober, service)].get(agent)
            if last is None or last[0] <= row.ts:
                newest[(prober, service)][agent] = (row.ts, ok, communes | (last[2] if last else set()))
    per_service: dict[tuple[str, str], list[Judgement]] = defaultdict(list)
    for (prober, service, index), by_agent in sorted(rounds.items()):
        seen = {a: (ok, communes) for a, (_ts, ok, communes) in by_agent.items()}
        per_service[(prober, service)].append(judge(service, prober, index * window_s, seen))
    return [_summary(prober, service, js, _latest(prober, service, newest[(prober, service)], window_s))
            for (prober, service), js in sorted(per_service.items())]


def _latest(prober: str, service: str, by_agent: dict[str, tuple[float, bool, set[str]]],
            window_s: float) -> Judgement:
    """The verdict now: each agent's newest result, if within two windows of the newest of all.

    A sliding window, not the fixed rounds: agents' checks drift in phase, and a fixed boundary
    falling between two agents' results would leave each round with one vantage point. Two
    windows, not one: each agent spreads its checks over the interval and runs a little late
    under load, so the others' newest results can be just over one interval older (seen in the
    three-agent lab test with 3 s checks); an agent that missed two checks no longer counts.
    """
    top = max(ts for ts, _ok, _c in by_agent.values())
    seen = {a: (ok, c) for a, (ts, ok, c) in by_agent.items() if ts > top - LATEST_WINDOWS * window_s}
    return judge(service, prober, top, seen)


def _summary(prober: str, service: str, judgements: Sequence[Judgement], latest: Judgement) -> ServiceVerdict:
    blamed: dict[str, int] = defaultdict(int)
    for j in judgements:
        if j.verdict is Verdict.LINK:
            for p in j.failing:
                blamed[p.label()] += 1
    count = {v: sum(1 for j in judgements if j.verdict is v) for v in Verdict}
    vantages = max(len(j.failing) + len(j.reaching) for j in judgements)
    return ServiceVerdict(service, prober, vantages, len(judgements), count[Verdict.OK], count[Verdict.LINK],
                          count[Verdict.DOWN] + count[Verdict.DOWN_ONE_PLACE], latest,
                          tuple(sorted(blamed, key=lambda k: (-blamed[k], k))))
