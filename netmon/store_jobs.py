"""The daemon's own store jobs for the bookkeeping process: the heartbeat and retention slices.

A job crosses to the worker by module name and unpickling it imports its module; these lived in
netmon/daemon.py, so the worker imported the whole daemon (scheduler, probers, config models)
at its first heartbeat: ~20 MB there for two functions that need only the store.
"""

from __future__ import annotations

import os
from typing import Any

from netmon.retention import Policy, Retention, prune_store
from netmon.store import Store

PRUNE_ROWS = 2000
PRUNE_SLICE_S = 0.5
"""Retention work per heartbeat, in the bookkeeping process: bounded steps, the rest at the next heartbeat
(each step is its own short write transaction, so the writer never waits long)."""


def retention_slice(store: Store, policy: Policy, outputs: list[str], due: bool) -> tuple[bool, dict[str, int]]:
    """Bookkeeping job: bounded retention steps (PRUNE_SLICE_S) when due or over the cap.

    Returns whether more remains and what this slice deleted, by counter (`retention:*`, `cap:*`, ...).
    """
    if not due and not Retention(store, policy, outputs).over_cap():
        return False, {}
    before = store.counters()
    more = prune_store(store, policy, outputs, max_rows=PRUNE_ROWS, budget_s=PRUNE_SLICE_S)
    after = store.counters()
    gone = {k: v - before.get(k, 0) for k, v in after.items()
            if k.startswith(("retention:", "cap:", "dropped_unsent")) and v != before.get(k, 0)}
    return more, gone


def write_heartbeat(store: Store, started_ts: float, state: dict[str, Any]) -> None:
    """Bookkeeping job: extend this run and publish the agent state for `netmon status`."""
    store.mark_alive(started_ts, os.getpid(), state["heartbeat_ts"])
    store.set_state(**state)
