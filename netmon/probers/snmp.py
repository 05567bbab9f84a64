"""SNMP prober: GET the profile's scalars, bulk-walk its tables, derive Telegraf-shaped samples.

One `SnmpClient` serves every device of the agent (v1/v2c: netmon's own codec over one UDP
socket per address family; v3: netmon's own USM over the same codec, or one pysnmp engine for
DES and AES-192/256 users), with at most `scheduler.snmp_concurrency`
devices in flight. Each request has the check's own timeout and
retries, so a dead commune costs its slot `timeout * (retries + 1)` and nothing more: once the
first GET times out, the walks are skipped.

Outcomes (the result `status`):
- `ok`: the agent answered. OIDs it does not have (noSuchObject/noSuchInstance, e.g. an optional
  vendor signal OID) are left out of the samples and named in the `reason`; so is a walk cut at
  the request cap (its table is incomplete) and a v1 GET sent again without an unknown OID.
- `error` with samples: the agent answered, but a value has the wrong type or an absurd size
  (snmp_fields), or a field would change type from what this agent's earlier polls wrote.
  That value is left out, the rest is kept, and the reason names the OID, what came and what
  was expected.
- `mismatch`: the agent answered but has none of the OIDs asked for (wrong profile for it).
- `timeout`: no answer. For v1/v2c a wrong community looks exactly like this (agents stay silent).
- `auth_failed`: v3 user unknown, wrong auth key (WrongDigest) or wrong privacy key, or a
  reply whose HMAC does not check.
- `error`: anything else (agent error status, unknown protocol name, unreadable key file).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from typing import Any

from netmon.config.schema import SnmpCheck
from netmon.model import Device, ProbeResult, Sample, Status
from netmon.probers.base import Emit, ProberBase, ProberContext, failed
from netmon.probers.snmp_client import MISSING, Answer, SnmpClient
from netmon.probers.snmp_derive import Derived, DeviceMemory, ago, derive
from netmon.secrets import mask

log = logging.getLogger(__name__)

DEFAULT_PORT = 161
_SHOWN_PROBLEMS = 3
"""Bad values named in a reason; the count of the others follows."""


class SnmpProber(ProberBase):
    """Polls devices over SNMP v1/v2c/v3 with one shared engine."""

    name = "snmp"

    def __init__(self, context: ProberContext) -> None:
        super().__init__(context)
        self.client = SnmpClient(context.config_dir)
        self._snmp_limit = asyncio.Semaphore(context.scheduler.snmp_concurrency)
        self._memory: dict[tuple[str, str], DeviceMemory] = {}
        self._field_types: dict[str, dict[str, type]] = {}
        """measurement -> field -> the type first written: a field never changes type (InfluxDB).
        Nested, not keyed by a (measurement, field) pair: no tuple is built per field per poll."""

    async def probe(self, device: Device, check: SnmpCheck) -> ProbeResult:
        """Poll one device once; never raises for a target's failure."""
        async with self._snmp_limit:
            started, t0 = time.time(), time.monotonic()
            try:
                result = await self._poll(device, check, started, t0)
            except (KeyError, OSError, ValueError) as exc:
                # Bad credentials config (unknown protocol name, unreadable key file)
                result = failed(device, check, self.name, Status.ERROR,
                                f"cannot build SNMP request: {type(exc).__name__}: {mask(str(exc))}", started, t0)
            except Exception as exc:  # a bug in netmon or pysnmp: say so, keep the agent going
                log.exception("snmp probe of %s failed unexpectedly", device.id)
                result = failed(device, check, self.name, Status.ERROR,
                                f"internal error: {type(exc).__name__}: {mask(str(exc))}", started, t0)
        return result

    async def probe_many(self, devices: Sequence[Device], check: SnmpCheck, emit: Emit) -> None:
        """Poll many devices under the SNMP concurrency cap, emitting each result when ready."""

        async def one(device: Device) -> None:
            emit(await self.probe(device, check))

        await asyncio.gather(*(one(d) for d in devices))

    async def close(self) -> None:
        """Close the shared SNMP sockets."""
        self.client.close()

    def forget(self, device_id: str) -> None:
        """Drop what is remembered of a device (removed from the inventory)."""
        for key in [k for k in self._memory if k[0] == device_id]:
            del self._memory[key]

    async def _poll(self, device: Device, check: SnmpCheck, started: float, t0: float) -> ProbeResult:
        if not device.host:
            return failed(device, check, self.name, Status.ERROR, "device has no host: to poll",
                          started, t0)
        auth = self.context.auths.get(device.auth or "")
        if auth is None:
            why = f"auth '{device.auth}' is not in auths:" if device.auth else "device has no auth:"
            return failed(device, check, self.name, Status.ERROR, why, started, t0)
        port = device.snmp_port or DEFAULT_PORT
        call = (device.host, port, auth)
        timing = (check.timeout, check.retries)
        values: dict[str, Any] = {}
        missing: list[str] = []
        notes: list[str] = []
        if check.get:
            answer = await self.client.get(*call, list(check.get.values()), *timing)
            if answer.status is not None:
                return failed(device, check, self.name, answer.status, answer.reason, started, t0)
            if answer.reason:
                notes.append(answer.reason)
            for oid, value in answer.varbinds:
                if value is MISSING:
                    missing.append(oid)
                else:
                    values[oid] = value
        walked: list[tuple[str, Any]] = []
        for name, root in check.walk.items():
            answer = await self.client.walk(*call, root, *timing, check.max_repetitions)
            if answer.status is not None:
                return self._partial(device, check, answer, name, started, t0)
            if not answer.varbinds:
                missing.append(root)
            if answer.reason:
                notes.append(f"walk {name} {answer.reason}")
            walked.extend(answer.varbinds)
        key = (device.id, check.name)
        derived = derive(check.get, values, walked, check.walk, started, self._memory.get(key))
        self._memory[key] = derived.memory
        derived.notes[:0] = notes
        samples = self._fixed_types(derived.samples, derived.problems)
        status, reason = _summary(check, derived, missing, values, walked)
        return ProbeResult(device.id, check.name, self.name, status, reason, started,
                           time.monotonic() - t0, samples)

    def _fixed_types(self, samples: list[Sample], problems: list[str]) -> tuple[Sample, ...]:
        """Drop any field whose type differs from what was first written under its name."""
        out = []
        for sample in samples:
            fields = dict(sample.fields)
            known = self._field_types.setdefault(sample.measurement, {})
            for name, value in sample.fields.items():
                first = known.setdefault(name, type(value))
                if first is not type(value):
                    del fields[name]
                    where = ",".join(f"{k}={v}" for k, v in sample.tags.items())
                    problems.append(f"{sample.measurement}{'[' + where + ']' if where else ''} {name}: got "
                                    f"{type(value).__name__} {value!r}, expected {first.__name__} "
                                    "as written before (a field never changes type)")
            out.append(sample if len(fields) == len(sample.fields) else
                       Sample(sample.measurement, fields, sample.tags))
        return tuple(out)

    def _partial(self, device: Device, check: SnmpCheck, answer: Answer, walk_name: str,
                 started: float, t0: float) -> ProbeResult:
        reason = f"walk {walk_name}: {answer.reason}"
        return failed(device, check, self.name, answer.status or Status.ERROR, reason, started, t0)


def _summary(check: SnmpCheck, derived: Derived, missing: list[str], values: dict[str, Any],
             walked: list[tuple[str, Any]]) -> tuple[Status, str]:
    """Pick the status and write the human reason for an answered poll."""
    if not values and not walked:
        return Status.MISMATCH, "agent answered but has none of the OIDs asked for (wrong profile?)"
    by_oid = {oid: name for name, oid in {**check.get, **check.walk}.items()}
    parts = [f"{len(values)} values, {len(walked)} table cells"]
    if derived.problems:
        shown = derived.problems[:_SHOWN_PROBLEMS]
        more = len(derived.problems) - len(shown)
        parts.insert(0, "wrong values from the agent, left out: " + "; ".join(shown)
                     + (f"; and {more} more" if more else ""))
    if missing:
        names = ", ".join(by_oid.get(oid, oid) for oid in missing)
        parts.append(f"not on this agent: {names}")
    if derived.reboot_ts is not None:
        ago_s = max(0.0, derived.memory.ts - derived.reboot_ts)
        parts.append(f"host rebooted {ago(ago_s)} ago ({derived.memory.boot_src}), counters restarted")
    parts.extend(derived.notes)
    return (Status.ERROR if derived.problems else Status.OK), "; ".join(parts)
