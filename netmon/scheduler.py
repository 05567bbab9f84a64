"""Builds the probing schedule from the config and owns timeouts, pacing and phases.

One APScheduler job per (profile check, phase slice), never one per target: every target
gets a stable phase offset inside its interval (crc32 of its id, so restarts keep it and
APScheduler's accumulating jitter is not needed), targets whose offsets fall in the same
slice run together as one batch that fans out under the prober's concurrency cap. The
scheduler owns the deadline: a round may run for its own worst case (packets, timeouts,
retries, walks, pacing) or 90 % of its interval, whichever is longer; then it is cut off and
the devices that never answered are recorded as errors, so one hung target can delay nobody
but itself. Runs of the same job never overlap (a late one is skipped, not queued).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, JobSubmissionEvent
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from netmon.config import Config
from netmon.errors import ConfigurationError
from netmon.kinds.base import default_packets, default_worst_s
from netmon.kinds.registry import KINDS
from netmon.model import Device, ProbeResult, Status
from netmon.probers import Prober

log = logging.getLogger(__name__)

ROUND_SHARE = 0.9
"""Share of the interval a round may take before the scheduler cuts it off."""


@dataclass(frozen=True)
class Batch:
    """The devices of one check whose phase falls into one slice of the interval."""

    job_id: str
    profile: str
    check: object
    devices: tuple[Device, ...]
    offset_s: float
    """Where in the interval this batch starts (seconds after the epoch-aligned boundary)."""

    @property
    def interval_s(self) -> float:
        """How often the batch runs."""
        return float(self.check.interval)  # type: ignore[attr-defined]


def phase_of(device_id: str, check_name: str, interval_s: float) -> float:
    """A stable offset in [0, interval) for this target, so load spreads evenly and survives restarts."""
    return (zlib.crc32(f"{device_id}\0{check_name}".encode()) % 1_000_000) / 1_000_000 * interval_s


def plan_batches(config: Config, slice_s: float) -> list[Batch]:
    """Group every (device, check) of the config into phase-slice batches."""
    groups: dict[tuple[str, str], list[Device]] = defaultdict(list)
    for device in config.devices:
        for check in config.profiles[device.profile].checks:
            groups[(device.profile, check.name)].append(device)
    batches = []
    for (profile, check_name), devices in groups.items():
        check = next(c for c in config.profiles[profile].checks if c.name == check_name)
        interval = float(check.interval)
        width = min(slice_s, interval)
        slices: dict[int, list[Device]] = defaultdict(list)
        for device in devices:
            slices[int(phase_of(device.id, check_name, interval) // width)].append(device)
        for index, members in sorted(slices.items()):
            batches.append(Batch(f"{profile}/{check_name}/{index}", profile, check, tuple(members), index * width))
    return batches


def deadline_for(check: object, targets: int = 1, max_pps: float = float("inf")) -> float:
    """Longest a round of `targets` devices may run: its own worst case, at least 90 % of the interval.

    The worst case of one target is the kind's rule (netmon/kinds); pacing under `max_pps` and one
    second of slack come on top.
    """
    kind = KINDS.get(str(getattr(check, "prober", "")))
    worst_s, packets = (kind.worst_s, kind.packets) if kind else (default_worst_s, default_packets)
    worst = worst_s(check) + targets * packets(check) / max_pps + 1.0
    return max(ROUND_SHARE * float(check.interval), worst)  # type: ignore[attr-defined]


async def run_batch(prober: Prober, batch_devices: Sequence[Device], check: object,
                    emit: Callable[[ProbeResult], None], deadline_s: float) -> None:
    """Probe the devices, and give every device that did not answer in time an error result."""
    pending = {d.id: d for d in batch_devices}
    started = time.time()

    def emit_once(result: ProbeResult) -> None:
        if pending.pop(result.device_id, None) is not None:
            emit(result)

    why = f"no result within {deadline_s:.1f} s (prober stalled)"
    try:
        await asyncio.wait_for(prober.probe_many(batch_devices, check, emit_once), deadline_s)
    except TimeoutError:
        log.error("check %s (%s): %d of %d targets still running after %.1f s; recorded as errors",
                  check.name, prober.name, len(pending), len(batch_devices), deadline_s)  # type: ignore[attr-defined]
    except Exception:
        log.exception("prober %s raised on check %s; this is a bug, the results are recorded as errors",
                      prober.name, check.name)  # type: ignore[attr-defined]
        why = "the prober failed (a bug; see the log)"
    missing = list(pending.values())
    pending.clear()  # a sibling probe finishing later must not add a second result
    for device in missing:
        emit(ProbeResult(device.id, check.name, prober.name, Status.ERROR, why,  # type: ignore[attr-defined]
                         started, time.time() - started))


class _DropSkipWarnings(logging.Filter):
    """Drops APScheduler's per-round "skipped: maximum number of running instances" warning.

    During a long outage a check whose worst case exceeds its interval would log that line every
    round, all day; `ProbeSchedule` logs the change of state instead (first skip, back on time).
    """

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith('Execution of job "%s" skipped')


_SKIP_FILTER = _DropSkipWarnings()


class PlanError(ConfigurationError, ValueError):
    """A config whose schedule cannot be built; the running schedule was not touched."""


class ProbeSchedule:
    """Owns the APScheduler instance and the probe jobs built from one config."""

    def __init__(self, probers: Mapping[str, Prober], emit: Callable[[ProbeResult], None]) -> None:
        self.probers = dict(probers)
        self.emit = emit
        self.scheduler = AsyncIOScheduler(timezone=UTC)
        self.lag_s = 0.0
        self.rounds = 0
        self.last_round_ts = 0.0
        self._running: set[asyncio.Task] = set()
        self.max_pps = float("inf")
        self._generation = 0
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        logging.getLogger("apscheduler.scheduler").setLevel(logging.WARNING)
        logging.getLogger("apscheduler.scheduler").addFilter(_SKIP_FILTER)  # idempotent for one object
        self.skipped_rounds = 0
        """Rounds not started because the previous round of the same batch was still running."""
        self._skipping: dict[str, int] = {}
        self.scheduler.add_listener(self._on_skip, EVENT_JOB_MAX_INSTANCES)

    def start(self) -> None:
        """Start the scheduler; must be called inside the running loop."""
        self.scheduler.start()

    def load(self, config: Config, probers: Mapping[str, Prober] | None = None) -> int:
        """Replace every probe job with those of `config` (and the probers, when given); returns the job count.

        The new plan is built completely first (batches, triggers, a prober for every check):
        if any of it fails, `PlanError` is raised and the running jobs and probers are untouched.
        The new jobs are then added under a new generation before the old ones are removed, so a
        failure while adding also leaves the old schedule probing.
        """
        probers = dict(self.probers if probers is None else probers)
        plan = self.plan(config, probers)
        old = [job for job in self.scheduler.get_jobs() if job.id.startswith("probe:")]
        self._generation += 1
        added = []
        try:
            for batch, trigger, first in plan:
                added.append(self.scheduler.add_job(
                    self._run, trigger, args=[batch, first], id=f"probe:{self._generation}:{batch.job_id}",
                    name=batch.job_id, max_instances=1, coalesce=True,
                    misfire_grace_time=max(1, int(batch.interval_s)), replace_existing=True))
        except Exception:
            for job in added:
                job.remove()
            raise
        for job in old:
            job.remove()
        self.probers = probers
        self.max_pps = config.settings.scheduler.max_pps
        return len(plan)

    def plan(self, config: Config, probers: Mapping[str, Prober]) -> list[tuple[Batch, IntervalTrigger, float]]:
        """Every batch of `config` with its trigger and first run; raises `PlanError`, touches nothing."""
        now = time.time()
        epoch = now - now % 60 + 60
        for name in sorted({d.profile for d in config.devices}):
            if name not in config.profiles:
                raise PlanError(f"profile {name!r} is used by a device but not loaded")
            for check in config.profiles[name].checks:
                for key in ("interval", "timeout"):
                    value = float(getattr(check, key))
                    if not math.isfinite(value) or value <= 0:
                        raise PlanError(f"check {check.name!r} of profile {name!r}: {key} {value!r} is "
                                        "not a finite duration above zero")
        try:
            batches = plan_batches(config, config.settings.scheduler.slice)
        except (ArithmeticError, ValueError, KeyError, TypeError) as exc:
            raise PlanError(f"the probe schedule cannot be planned: {exc}") from exc
        plan = []
        for batch in batches:
            interval = batch.interval_s
            prober = batch.check.prober  # type: ignore[attr-defined]
            if prober not in probers:
                raise PlanError(f"check {batch.check.name!r} of profile {batch.profile!r} needs "  # type: ignore[attr-defined]
                                f"the {prober} prober, which is not available")
            first = epoch + batch.offset_s
            while first - interval > now:
                first -= interval
            try:
                trigger = IntervalTrigger(seconds=interval, start_date=datetime.fromtimestamp(first, UTC))
            except (OverflowError, ValueError, OSError) as exc:
                raise PlanError(f"check {batch.check.name!r} of profile {batch.profile!r}: "  # type: ignore[attr-defined]
                                f"interval {interval!r} cannot be scheduled ({exc})") from exc
            plan.append((batch, trigger, first))
        return plan

    def _on_skip(self, event: JobSubmissionEvent) -> None:
        """A round did not start: its previous one is still inside its deadline. Logged once per run of skips."""
        self.skipped_rounds += 1
        job = self.scheduler.get_job(event.job_id)
        name = job.name if job is not None else event.job_id
        self._skipping[name] = self._skipping.get(name, 0) + 1
        if self._skipping[name] == 1:
            log.warning("%s: a round was skipped because the previous one is still running (its "
                        "timeouts and retries take longer than the interval, e.g. targets not "
                        "answering); further skips are counted, and logged when rounds run on time again",
                        name)

    async def _run(self, batch: Batch, first_ts: float) -> None:
        interval = batch.interval_s
        started = time.monotonic()
        late = (time.time() - first_ts) % interval
        self.lag_s = late if late < interval / 2 else 0.0
        task = asyncio.current_task()
        if task is not None:
            self._running.add(task)
        try:
            await run_batch(self.probers[batch.check.prober], batch.devices, batch.check,  # type: ignore[attr-defined]
                            self.emit, deadline_for(batch.check, len(batch.devices), self.max_pps))
        finally:
            self._running.discard(task)  # type: ignore[arg-type]
            if time.monotonic() - started < interval and batch.job_id in self._skipping:
                log.info("%s: rounds fit their interval again after %d skipped",
                         batch.job_id, self._skipping.pop(batch.job_id))
            self.rounds += 1
            self.last_round_ts = time.time()

    def running(self) -> list[asyncio.Task]:
        """Rounds in progress now."""
        return [t for t in self._running if not t.done()]

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop starting rounds; let running ones finish for up to `grace_s`, then cancel them."""
        self.scheduler.pause()
        await asyncio.sleep(0)  # a job handed to the loop just now registers in _running first
        running = [t for t in self._running if not t.done()]
        if running:
            _done, still = await asyncio.wait(running, timeout=grace_s)
            for task in still:
                task.cancel()
            if still:
                await asyncio.wait(still, timeout=1.0)
        self.scheduler.shutdown(wait=False)


async def run_once(config: Config, probers: Mapping[str, Prober], emit: Callable[[ProbeResult], None],
                   on_batch_done: Callable[[int], None] | None = None) -> None:
    """Run every check of every device once, checks in parallel, each paced by its prober."""
    groups: dict[tuple[str, str], list[Device]] = defaultdict(list)
    checks = {}
    for device in config.devices:
        for check in config.profiles[device.profile].checks:
            groups[(device.profile, check.name)].append(device)
            checks[(device.profile, check.name)] = check

    async def one(key: tuple[str, str]) -> None:
        check = checks[key]
        await run_batch(probers[check.prober], groups[key], check, emit,
                        deadline_for(check, len(groups[key]), config.settings.scheduler.max_pps))
        if on_batch_done:
            on_batch_done(len(groups[key]))

    await asyncio.gather(*(one(k) for k in groups))

