"""The analysis component of the daemon: it times rollups, evaluations and PC scoring, which run in
the bookkeeping process (netmon.analysis.worker); the judging itself is netmon.analysis.evaluator."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

from netmon.analysis import worker
from netmon.component import Host
from netmon.logs import FailureLog

log = logging.getLogger("netmon.analysis.evaluator")  # the name operators' log filters already use


PC_HEALTH_EVERY_S = 3600.0
"""PC aging looks at a week of results, so scoring it hourly is plenty (first score after one evaluation)."""


ROLLUP_STEP = 5_000
"""Results rolled up per bookkeeping job: one short write transaction, so the writer never waits long."""


class AnalysisComponent:
    """Daemon component: rollups, evaluation and PC scoring, all in the daemon's bookkeeping process.

    The rollup engine lives in that process (netmon.analysis.worker); the event loop only times
    the steps. Rollups (and the 24 h catch-up at first start) advance in steps of `ROLLUP_STEP`
    results, each its own job, so the heartbeat and the writer get their turn.
    """

    name = "analysis"
    tables = ("rollup_device_k", "rollup_village_k", "device_keys", "village_keys", "analysis_device_state",
              "analysis_outages", "analysis_meta", "flags", "village_eval", "village_status")
    """The rollups are stored keyed by integers (schema v5); `rollup_device`/`rollup_village` are views on them."""

    def __init__(self, config: Any) -> None:
        self.config = config
        self._task: asyncio.Task | None = None
        self._failures = FailureLog("analysis step", log)

    async def start(self, host: Host) -> None:
        """Build the rollup engine in the bookkeeping process and start the timer."""
        self.host = host
        await host.setup_job("analysis", worker.build, worker.ForWorker(self.config))
        self._task = asyncio.create_task(self._loop(), name="analysis")

    async def reload(self, config: Any) -> None:
        """Adopt a new config: new villages, thresholds and windows from the next evaluation."""
        self.config = config
        await self.host.setup_job("analysis", worker.build, worker.ForWorker(config))

    async def _loop(self) -> None:
        every = self.config.settings.analysis.evaluate_every
        next_eval = time.time() + every
        next_pcs = time.time() + min(every, PC_HEALTH_EVERY_S)
        run_job = self.host.run_job
        while True:
            await asyncio.sleep(min(5.0, max(0.5, next_eval - time.time())))
            wrote = False  # only a step that wrote something proves a failure is over
            try:
                while (n := await run_job(worker.roll_up, ROLLUP_STEP)) > 0:
                    wrote = True
                    if n < ROLLUP_STEP or time.time() >= next_eval:
                        break  # a long catch-up still lets evaluations run on time
                if time.time() >= next_eval:
                    wrote = True
                    next_eval = time.time() + self.config.settings.analysis.evaluate_every
                    await run_job(worker.evaluate)  # the worker commits the results itself
                if time.time() >= next_pcs:
                    next_pcs = time.time() + PC_HEALTH_EVERY_S
                    _scored, waiting = await run_job(worker.score_pcs)
                    if waiting:  # a PC not answering SNMP yet is scored at its first answer, not an hour on
                        next_pcs = time.time() + self.config.settings.analysis.evaluate_every
            except Exception as exc:
                self._failures.failed(exc, "retrying at the next step")
            else:
                if wrote:
                    self._failures.ok()

    async def stop(self) -> None:
        """Stop the timer; rollups already committed stay, the cursor resumes on restart."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def analysis_components(config: Any) -> list[AnalysisComponent]:
    """Component factory for `netmon.daemon.COMPONENT_FACTORIES`."""
    return [AnalysisComponent(config)]

