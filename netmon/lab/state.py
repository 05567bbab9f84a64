"""What a lab created, on disk, so that `down` can undo it even after a crash; and process helpers.

`up` writes `/run/netmon-lab/<name>.json` *before* each step (write-ahead), the trouble
supervisor keeps the snmpd processes it restarted in `<run_dir>/supervisor.json`. Processes are
identified by PID plus their kernel start time, so a recycled PID is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("netmon.lab")

LAB_ROOT = Path(os.environ.get("NETMON_LAB_ROOT", "/run/netmon-lab"))


@dataclass
class Proc:
    """A process the lab started: PID, kernel start time (clock ticks since boot), role, key."""

    pid: int
    start: int
    role: str
    """snmpd, supervisor or daemon."""
    key: str = ""
    """For snmpd: the device address it answers for."""

    def alive(self) -> bool:
        """True while this very process (not a recycled PID) is running."""
        return proc_start(self.pid) == self.start


@dataclass
class LabState:
    """The record of one lab; `phase` is building, up or failed."""

    name: str
    run_dir: str
    phase: str = "building"
    scenario: str = ""
    snmpd: str = "snmpd"
    t0: float = 0.0
    lifetime_s: float = 0.0
    config: str = ""
    agent_ns: str = ""
    namespaces: list[str] = field(default_factory=list)
    procs: list[Proc] = field(default_factory=list)

    @staticmethod
    def path_for(name: str) -> Path:
        """Where lab `name`'s state file lives."""
        return LAB_ROOT / f"{name}.json"

    def save(self) -> None:
        """Write atomically (a crash leaves the old file or the new one, never half)."""
        write_json(self.path_for(self.name), asdict(self))

    @classmethod
    def load(cls, name: str) -> LabState | None:
        """Read lab `name`'s state, or None when there is none."""
        data = read_json(cls.path_for(name))
        if not isinstance(data, dict):
            return None
        procs = [Proc(**p) for p in data.pop("procs", [])]
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known, procs=procs)


def write_json(path: Path, data: Any) -> None:
    """Atomic JSON write: temp file in the same folder, then rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=1, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """Parsed JSON, or None when the file is missing or unreadable (e.g. cut short by a crash)."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s (%s); leftovers are found by name instead", path, exc)
        return None


def proc_start(pid: int) -> int | None:
    """The kernel start time of a running PID, or None if it is gone or a zombie."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = raw[raw.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def track(pid: int, role: str, key: str = "") -> Proc:
    """Record a freshly started process."""
    return Proc(pid, proc_start(pid) or 0, role, key)


def _reap(pid: int) -> None:
    # Our own children (tests call `up` in-process) must be reaped or they linger as zombies;
    # anyone else's child raises ChildProcessError, which just means "not ours to reap".
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def stop(proc: Proc, grace_s: float = 3.0) -> bool:
    """SIGTERM, then SIGKILL after `grace_s`; True when it was running and is now gone."""
    if not proc.alive():
        return False
    for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 2.0)):
        try:
            os.kill(proc.pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            _reap(proc.pid)
            if not proc.alive():
                return True
            time.sleep(0.02)
    return not proc.alive()
