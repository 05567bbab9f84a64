"""The peer of bench_snmp.py: prometheus-snmp-exporter scraped on loopback, its CPU counted two ways.

1. Whole process: the exporter's user+system CPU (/proc/<pid>/stat) over `scrapes` scrapes,
   unprofiled. One scrape = one full device poll, but also an HTTP request served and 146
   samples rendered as Prometheus text, which netmon's poll does not do.
2. SNMP part only: Go's pprof (`/debug/pprof/profile?seconds=N`, served on the exporter's web
   port) records a CPU profile while scrapes run in a loop; pprof_split divides its samples into
   SNMP work (gosnmp, UDP I/O, PDU->metric conversion), HTTP serving + rendering, and runtime
   (GC, scheduler), and runtime is shared pro rata. That fraction times (1) is the SNMP part.
"""

from __future__ import annotations

import http.client
import math
import os
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pprof_split
from snmp_helpers import stop

IF_TABLE, HR_STORAGE = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.25.2.3.1"

EXPORTER_YML = """\
bench:
  version: 2
  auth: {{community: {community}}}
  max_repetitions: 25
  retries: 1
  timeout: 2s
  get: [{scalars}]
  walk: [{if_table}, {hr_storage}]
  metrics:
{metrics}
"""


def proc_cpu_s(pid: int) -> float:
    """user+system CPU seconds of another process."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exporter_metrics(scalars: list[str]) -> str:
    """Numeric-OID metric list: the scalars plus every ifTable and hrStorageTable column."""
    lines = [f"  - {{name: s{i}, oid: {oid[:-2]}, type: DisplayString}}" if i in (0, 3, 4, 5)
             else f"  - {{name: s{i}, oid: {oid[:-2]}, type: gauge}}" for i, oid in enumerate(scalars)]
    lines[1] = f"  - {{name: s1, oid: {scalars[1][:-2]}, type: OctetString}}"
    for col in range(1, 23):
        kind = "DisplayString" if col == 2 else "PhysAddress48" if col == 6 else "gauge"
        if col == 22:
            kind = "OctetString"
        lines.append(f"  - {{name: if{col}, oid: {IF_TABLE}.{col}, type: {kind}, "
                     "indexes: [{labelname: ifIndex, type: gauge}]}")
    for col in range(1, 8):
        kind = "DisplayString" if col == 3 else "OctetString" if col == 2 else "gauge"
        lines.append(f"  - {{name: hr{col}, oid: {HR_STORAGE}.{col}, type: {kind}, "
                     "indexes: [{labelname: hrStorageIndex, type: gauge}]}")
    return "\n".join("  " + line for line in lines)


def free_tcp_port() -> int:
    """A TCP port on 127.0.0.1 nobody holds right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int, path: str, timeout_s: float = 10) -> bytes:
    """One HTTP GET on loopback."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        return conn.getresponse().read()
    finally:
        conn.close()


class Exporter:
    """An own prometheus-snmp-exporter on a free loopback port, configured for the bench module."""

    def __init__(self, work: Path, snmp_port: int, community: str, scalars: list[str]) -> None:
        conf = work / "snmp.yml"
        conf.write_text(EXPORTER_YML.format(community=community, scalars=", ".join(scalars),
                                            if_table=IF_TABLE, hr_storage=HR_STORAGE,
                                            metrics=exporter_metrics(scalars)))
        self.port = free_tcp_port()
        self.path = f"/snmp?module=bench&target=127.0.0.1:{snmp_port}"
        with open(work / "exporter.log", "wb") as log:
            self.proc = subprocess.Popen(["prometheus-snmp-exporter", f"--config.file={conf}",
                                          f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=error"],
                                         stdout=subprocess.DEVNULL, stderr=log)
        body = b""
        for _ in range(50):
            try:
                body = scrape(self.port, self.path)
                break
            except OSError:
                time.sleep(0.1)
        if b"if10{" not in body:
            stop(self.proc)
            raise RuntimeError(f"exporter did not answer a scrape: {body[:300]!r}")

    def cpu_s(self) -> float:
        """The exporter process's CPU seconds so far."""
        return proc_cpu_s(self.proc.pid)

    def scrapes(self, n: int, parallel: int) -> dict[str, float]:
        """n scrapes from `parallel` threads: wall s, exporter CPU s, ok count."""
        c0, t0 = self.cpu_s(), time.perf_counter()
        with ThreadPoolExecutor(parallel) as pool:
            sizes = list(pool.map(lambda _: len(scrape(self.port, self.path)), range(n)))
        return {"wall": time.perf_counter() - t0, "cpu": self.cpu_s() - c0, "ok": sum(s > 1000 for s in sizes)}

    def profiled(self, seconds: int, parallel: int, max_scrapes: int = 200_000) -> tuple[bytes, dict[str, float]]:
        """Scrape in a loop while pprof records `seconds` of CPU; (gzip'd profile, window counts)."""
        done = threading.Event()
        counts = [0, 0]  # scrapes, ok
        lock = threading.Lock()

        def loop() -> None:
            deadline = time.monotonic() + seconds + 30
            while not done.is_set() and time.monotonic() < deadline:
                ok = len(scrape(self.port, self.path)) > 1000
                with lock:
                    counts[0] += 1
                    counts[1] += ok
                    if counts[0] >= max_scrapes:
                        return

        workers = [threading.Thread(target=loop, daemon=True) for _ in range(parallel)]
        for w in workers:
            w.start()
        time.sleep(0.2)  # let the load reach its steady state before the window opens
        with lock:
            n0, ok0 = counts
        c0 = self.cpu_s()
        try:
            data = scrape(self.port, f"/debug/pprof/profile?seconds={seconds}", timeout_s=seconds + 30)
        finally:
            cpu = self.cpu_s() - c0
            with lock:
                n, ok = counts[0] - n0, counts[1] - ok0
            done.set()
            for w in workers:
                w.join(timeout=15)
        if data[:2] != b"\x1f\x8b":
            raise RuntimeError(f"pprof did not return a profile: {data[:200]!r}")
        return data, {"scrapes": n, "cpu": cpu, "ok": ok}

    def close(self) -> None:
        """Stop the exporter (by its PID)."""
        stop(self.proc)


def shares(profile: pprof_split.CpuProfile) -> dict[str, float]:
    """SNMP share of the profile, strict and with runtime pro rata, and the standard error."""
    parts = pprof_split.split(profile)
    total = parts["snmp"] + parts["http"] + parts["runtime"] or 1
    attributed = parts["snmp"] + parts["http"] or 1
    strict = parts["snmp"] / total
    fair = strict + parts["runtime"] / total * parts["snmp"] / attributed
    n = max(parts["samples"], 1)
    return {"snmp": strict, "http": parts["http"] / total, "runtime": parts["runtime"] / total,
            "snmp_fair": fair, "stderr": math.sqrt(fair * (1 - fair) / n), "samples": parts["samples"],
            "profile_cpu_s": total / 1e9}


def bench_exporter(work: Path, snmp_port: int, community: str, scalars: list[str], scrapes: int,
                   parallel: int, profile_s: int) -> dict:
    """Whole-process CPU over `scrapes`, then a profiled window for the SNMP share (see module doc)."""
    exp = Exporter(work, snmp_port, community, scalars)
    try:
        out: dict = exp.scrapes(scrapes, parallel)
        data, window = exp.profiled(profile_s, parallel)
    finally:
        exp.close()
    profile = pprof_split.parse(data)
    out.update(window=window, share=shares(profile), profile=profile)
    return out
