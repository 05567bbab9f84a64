"""The analysis jobs that run in the daemon's bookkeeping process (netmon.bookkeeping).

The rollup engine lives in that process, built by `build` (a setup job: replayed if the process
is restarted) from a `WorkerConfig`: the part of the config analysis needs (settings without
secrets or the inventory tree, the catalog, the devices PC scoring needs). The daemon hands it
over as `ForWorker(config)`, which is only built while it is pickled; loading the whole config
in the worker as well cost that process as much memory as the daemon's config (~100 MB at 20,000
targets, most of it the loader's garbage that the allocator never gives back). Every job takes
the worker's store first; results cross back to the daemon pickled.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from netmon.analysis.catalog import Catalog, catalog_from_config
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.logs import use_timezone
from netmon.model import Device, ProbeResult
from netmon.store import Store


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """What the analysis jobs read of a `Config`; it pickles (no `Secret` in it)."""

    settings: Any
    """The agent settings without auths, outputs, notify channels and inventory."""
    catalog: Catalog
    devices: tuple[Device, ...]
    """This agent's devices whose profile has `aging:` rules (PC scoring), with ..."""
    profiles: Mapping[str, Any]
    """... their profiles."""


def worker_config(config: Any) -> WorkerConfig:
    """The `WorkerConfig` of a loaded `netmon.config.Config`."""
    settings = config.settings
    notify = settings.notify.model_copy(update={"channels": {}}) if settings.notify is not None else None
    slim = settings.model_copy(update={"auths": {}, "inventory": [], "notify": notify,
                                       "outputs": type(settings.outputs)()})
    aging = {name: p for name, p in config.profiles.items() if p.aging is not None}
    return WorkerConfig(slim, catalog_from_config(config), tuple(d for d in config.devices if d.profile in aging),
                        aging)


class ForWorker:
    """A `Config` that crosses to the worker as its `WorkerConfig`, built only while being pickled.

    The daemon keeps setup jobs' arguments to replay them; keeping this (a reference to the
    config it holds anyway) instead of a built catalog costs it nothing between restarts.
    """

    __slots__ = ("config",)

    def __init__(self, config: Any) -> None:
        self.config = config

    def __reduce__(self) -> tuple[Any, ...]:
        wc = worker_config(self.config)
        return WorkerConfig, (wc.settings, wc.catalog, wc.devices, wc.profiles)


class _State:
    config: WorkerConfig | None = None
    engine: RollupEngine | None = None
    outages_after: float | None = None
    """Outages that closed before this were already written as village_outage points."""


def build(store: Store, wc: WorkerConfig | ForWorker) -> int:
    """Create (or re-target) the rollup engine for a config; returns the number of villages."""
    from netmon.analysis.evaluator import default_settle_s

    if isinstance(wc, ForWorker):  # called in-process (tests, tools), not through pickle
        wc = worker_config(wc.config)
    settings, catalog = wc.settings, wc.catalog
    use_timezone(settings.agent.timezone)  # the worker's log lines in the same zone as the daemon's
    a = settings.analysis
    office = OfficeHours(settings.agent.office_hours, settings.agent.timezone,
                         getattr(settings.agent, "public_holidays", ()))
    settle = a.settle if a.settle is not None else default_settle_s(catalog)
    engine = _State.engine
    if engine is None or engine.store is not store:  # another store: a process running several (tests, tools)
        _State.engine = RollupEngine(store, catalog, a.bucket_s, settle, office, a.window_trend)
        _State.outages_after = None
    else:
        engine.catalog = engine.recent.catalog = catalog
        engine.settle_s, engine.office, engine.bucket_s = settle, office, a.bucket_s
    _State.config = wc
    # The catalog and device states live as long as the config: out of the collector's sight, a
    # full collection walks only what a job allocates (it took 450-520 ms here at 20,000 targets).
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return len(catalog.villages)


def roll_up(_store: Store, max_rows: int) -> int:
    """One bounded rollup step (part of a catch-up, or what settled since the last one)."""
    assert _State.engine is not None, "build() runs first"
    return _State.engine.process(max_rows=max_rows)


COMMIT_CHUNK = 2_000
"""Results per commit of the worker's own results: short write transactions, as the writer's."""


def _commit(store: Store, results: list[ProbeResult]) -> int:
    """Commit results from the worker itself, in chunks.

    Handing 10,000 village results back to the daemon would mean unpickling them in one piece
    while holding the interpreter lock (measured: stalls of 100-150 ms at 100,000 targets); the
    worker has its own connection, and nothing in the daemon listens for these results (they are
    always `ok`, rollups ignore them, outputs read them from the store like any other).
    """
    for i in range(0, len(results), COMMIT_CHUNK):
        store.append(results[i:i + COMMIT_CHUNK])
    return len(results)


def evaluate(store: Store) -> int:
    """Evaluate every village and commit its village-status result (and its outages' points); returns how many."""
    from netmon.analysis.evaluator import Evaluator

    assert _State.config is not None, "build() runs first"
    results, _ = Evaluator(store, _State.config.catalog, _State.config.settings).evaluate()
    now = time.time()
    results += outage_results(store, _State.outages_after or now - OUTAGE_RESEND_S, now)
    stored = _commit(store, results)
    _State.outages_after = now  # only once they are stored: a failed commit sends them again next time
    return stored


OUTAGE_RESEND_S = 86400.0
"""After a (re)start, outages closed in the last day are written again: a resent point overwrites itself."""


def outage_results(store: Store, after_ts: float, now: float) -> list[ProbeResult]:
    """A `village_outage` point per device outage of a village, open now or closed after `after_ts`.

    The point's time is the outage's start and its device is a tag, so each evaluation rewrites the
    same point with the duration so far (InfluxDB keeps one point per series and time): the central
    availability report counts outages and MTTR from these, as the local report does from the
    store's analysis_outages. Fields: duration_s (to the end, or to now while open), open, cause.
    """
    from netmon.model import Sample, Status

    out = []
    for device_id, village_id, start, end, cause in store.conn.execute(
            "SELECT device_id, village_id, start_ts, end_ts, cause FROM analysis_outages WHERE village_id != ''"
            " AND (end_ts IS NULL OR end_ts > ?)", (after_ts,)):
        fields = {"duration_s": float(max(0.0, (end if end is not None else now) - start)), "open": end is None,
                  "cause": str(cause)}
        out.append(ProbeResult(village_id, "village-outage", "analysis", Status.OK, "", float(start), 0.0,
                               (Sample("village_outage", fields, {"device": device_id.rsplit("/", 1)[-1]}),)))
    return out


def score_pcs(store: Store) -> tuple[int, int]:
    """Commit a pc_health result for every PC with aging rules that answered SNMP in the window.

    Returns (scored, waiting): the PCs with no SNMP answer yet get no score, and the caller asks
    again sooner than hourly, so a PC's first score follows its first answer.
    """
    from netmon.analysis.pcs import pc_rows

    assert _State.config is not None, "build() runs first"
    now = time.time()
    rows = pc_rows(_State.config, store, now, pending=True)
    scored = [row.health.to_result(now) for row in rows if not row.health.pending]
    return _commit(store, scored), len(rows) - len(scored)
