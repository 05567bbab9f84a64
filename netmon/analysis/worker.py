"""The analysis jobs that run in the daemon's bookkeeping process (netmon.bookkeeping).

The rollup engine lives in that process, built by `build` (a setup job: replayed if the process
is restarted) from the config file, which the worker loads itself: a `Config` does not pickle,
and loading it there keeps the event loop's process free. Every job takes the worker's store
first; results cross back to the daemon pickled.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.officehours import OfficeHours
from netmon.analysis.rollups import RollupEngine
from netmon.logs import use_timezone
from netmon.model import ProbeResult
from netmon.store import Store


class _State:
    config: Any = None
    catalog: Any = None
    engine: RollupEngine | None = None


def build(store: Store, config_path: str) -> int:
    """Load the config and create (or re-target) the rollup engine; returns the number of villages."""
    from netmon.analysis.evaluator import default_settle_s
    from netmon.config import load_config

    config = load_config(Path(config_path))
    settings = config.settings
    use_timezone(settings.agent.timezone)  # the worker's log lines in the same zone as the daemon's
    catalog = catalog_from_config(config)
    a = settings.analysis
    office = OfficeHours(settings.agent.office_hours, settings.agent.timezone,
                         getattr(settings.agent, "public_holidays", ()))
    settle = a.settle if a.settle is not None else default_settle_s(catalog)
    engine = _State.engine
    if engine is None:
        _State.engine = RollupEngine(store, catalog, a.bucket_s, settle, office, a.window_trend)
    else:
        engine.catalog = engine.recent.catalog = catalog
        engine.settle_s, engine.office, engine.bucket_s = settle, office, a.bucket_s
    _State.config, _State.catalog = config, catalog
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
    """Evaluate every village and commit its village-status result; returns how many were stored."""
    from netmon.analysis.evaluator import Evaluator

    results, _ = Evaluator(store, _State.catalog, _State.config.settings).evaluate()
    return _commit(store, results)


def score_pcs(store: Store) -> int:
    """Commit a pc_health result for every device whose profile has aging rules (a week of raw results each)."""
    from netmon.analysis.pcs import pc_rows

    now = time.time()
    return _commit(store, [row.health.to_result(now) for row in pc_rows(_State.config, store, now)])
