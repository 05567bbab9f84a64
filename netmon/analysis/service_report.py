"""The services answers read from a store: the report's rounds and summaries, the status view's problems.

`service_rows` feeds `netmon report services`, `service_problems` the communes of `netmon status`;
both run the attribution of `netmon.analysis.services` over the results of the service devices.
The ui only renders what these return.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from netmon.analysis.services import (
    SERVICE_PROBERS,
    ServiceRound,
    ServicesReport,
    Verdict,
    attribute_rounds,
    pairs_from_store,
    services_report,
)
from netmon.i18n import N_
from netmon.model import Device
from netmon.store import Store

DEFAULT_WINDOW_S = 60.0

LINK_PROBLEM = N_("{name} unreachable from this place only (other places reach it): link?")
INTERMITTENT_PROBLEM = N_("{name} failing now and then (seen from one place)")
DOWN_FROM_ONE_PLACE = N_("{name}: service down (seen from one place)")
DOWN_FROM_EVERY_PLACE = N_("{name} down from every place that checks it: the service itself")
PROBLEM_TEMPLATES = (LINK_PROBLEM, INTERMITTENT_PROBLEM, DOWN_FROM_ONE_PLACE, DOWN_FROM_EVERY_PLACE)
"""A commune's service problem, `{name}` first: written in English (the JSON keeps it), translated where shown."""


def service_rows(config: Any, store: Any, now: float, days: float = 7.0) -> ServicesReport:
    """Rounds and summaries for the last `days` (config.devices/profiles; window = longest check interval)."""
    devices = [d for d in config.devices
               if any(c.prober in SERVICE_PROBERS for c in config.profiles[d.profile].checks)]
    pairs = pairs_from_store(store, devices, since_ts=now - days * 86400.0, until_ts=now)
    return services_report(pairs, window_s=service_window_s(config))


def service_window_s(config: Any) -> float:
    """The round window: the longest interval of any http/tcp check, so each vantage has one result."""
    used = {d.profile for d in config.devices}
    intervals = [float(check.interval) for name, profile in config.profiles.items() if name in used
                 for check in profile.checks if check.prober in SERVICE_PROBERS]
    return max(intervals, default=DEFAULT_WINDOW_S)


def service_problems(store: Store, devices: Sequence[Device], window_s: float, now: float) -> dict[str, list[str]]:
    """Per commune id: each service failing in its latest round, and whether it is the portal or the link.

    Every check of this agent leaves from its own box: one vantage point. So a failure is the
    service's, "seen from one place"; a commune's link is blamed only when distinct vantage points
    (several agents) disagree, which `attribute_rounds` decides. The texts are English, as the
    JSON keeps them; the ui shows them in the language in use (netmon.ui.status_words).
    """
    if not devices:
        return {}
    pairs = pairs_from_store(store, devices, since_ts=now - 3 * window_s)
    latest: dict[str, ServiceRound] = {}
    for r in attribute_rounds(pairs, window_s):
        if r.service not in latest or r.window_start_ts > latest[r.service].window_start_ts:
            latest[r.service] = r
    by_name = {d.id: d.name for d in devices}
    out: dict[str, list[str]] = {}
    for r in latest.values():
        for vantage in r.failing:
            cid = "/".join(vantage.device_id.split("/")[:2])
            name = by_name.get(vantage.device_id, r.service)
            if r.verdict is Verdict.LINK:
                template = LINK_PROBLEM
            elif r.verdict is Verdict.INTERMITTENT:
                template = INTERMITTENT_PROBLEM
            elif r.vantages == 1:
                template = DOWN_FROM_ONE_PLACE
            else:
                template = DOWN_FROM_EVERY_PLACE
            out.setdefault(cid, []).append(template.format(name=name))
    return {cid: sorted(problems) for cid, problems in out.items()}
