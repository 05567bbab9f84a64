"""Every benchmark script still runs: `--quick` with a tiny N, as a child process, printing its table.

None of them may append to BENCHMARKS.md here. Missing tools (fping, influxd, snmpd,
prometheus-snmp-exporter, root) skip with the reason, except under CI=true where they fail.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.need import missing as skip_or_fail

REPO = Path(__file__).resolve().parents[2]
LEDGER = REPO / "BENCHMARKS.md"

pytestmark = pytest.mark.slow


def require(*tools: str, root: bool = False) -> None:
    """Skip (fail under CI=true) when a tool the benchmark needs is missing."""
    missing = [t for t in tools if shutil.which(t) is None]
    if root and os.geteuid() != 0:
        missing.append("root (network namespaces / snmpsim as nobody)")
    if missing:
        skip_or_fail(f"benchmark needs {', '.join(missing)}")


def run_bench(script: Path, *args: str, timeout_s: float = 120, cwd: Path = REPO) -> str:
    """Run one script; assert it exited 0 and did not append to the repo's BENCHMARKS.md; return stdout."""
    before = LEDGER.read_text(encoding="utf-8") if LEDGER.exists() else ""
    done = subprocess.run([sys.executable, str(script), *args], capture_output=True, text=True,
                          timeout=timeout_s, cwd=cwd)
    after = LEDGER.read_text(encoding="utf-8") if LEDGER.exists() else ""
    assert done.returncode == 0, f"{script.name} exited {done.returncode}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"
    # Others may append their own blocks meanwhile; no new block may name this script.
    assert after.startswith(before) and script.name not in after[len(before):], f"{script.name} wrote BENCHMARKS.md"
    return done.stdout


def rows(text: str, first_cell: str) -> list[list[str]]:
    """Cells of the markdown table rows whose first cell starts with `first_cell`."""
    out = []
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0].startswith(first_cell):
            out.append(cells)
    return out


def test_icmp_quick_tiny() -> None:
    """netmon and fping both get every reply from 200 loopback targets in a private namespace."""
    require("fping", "ip", root=True)
    out = run_bench(REPO / "bench" / "bench_icmp.py", "--quick", "--sizes", "200", "--reps", "1",
                    "--no-icmplib", "--no-append")
    assert "| contender | N |" in out
    found = rows(out, "netmon") + rows(out, "fping")
    assert {r[0] for r in found} == {"netmon datagram", "netmon raw", "fping"}
    assert all(r[-1] == "600/600" for r in found), found


def test_snmp_quick() -> None:
    """The SNMP comparison runs end to end; every netmon poll succeeds."""
    require("snmpd", "snmpget", "snmpbulkwalk", "prometheus-snmp-exporter", root=True)
    out = run_bench(REPO / "bench" / "bench_snmp.py", "--polls", "20", "--devices", "20", "--no-append",
                    timeout_s=240)
    assert "| test | ok |" in out
    polls = rows(out, "netmon")
    assert polls, out
    for cells in polls:
        ok, total = (int(x) for x in cells[1].split("/"))
        assert ok == total > 0, cells


def test_forward_tiny() -> None:
    """2,000 points reach influxd both ways and the ratio line is printed."""
    require("influxd")
    out = run_bench(REPO / "bench" / "bench_forward.py", "--points", "2000", "--batch", "500", "--reps", "2",
                    "--no-append")
    assert "**throughput netmon / raw, per repetition**" in out and len(rows(out, "2")) == 2
    assert "both databases hold 2,000 points" in out


def test_analysis_tiny() -> None:
    """200 villages are evaluated over 1 and 30 days of rollups."""
    out = run_bench(REPO / "bench" / "bench_analysis.py", "--quick", "--villages", "200", "--no-append")
    assert [r[:2] for r in rows(out, "200")] == [["200", "1 d"], ["200", "30 d"]]
    assert re.search(r"30 d / 1 d = \d+\.\d\dx", out)


def test_sustained_tiny() -> None:
    """The daemon pings 300 loopback targets every 5 s; the measured interval has every result."""
    out = run_bench(REPO / "bench" / "bench_sustained.py", "--quick", "--sizes", "300", "--interval", "5",
                    "--rounds", "1", "--no-append", timeout_s=120)
    row, cost = rows(out, "300")
    assert row[1] == "5 s"
    assert row[8] == "300" and row[9] == "100.0", row  # per interval, ok %
    assert float(row[4].split()[0]) > 0  # CPU % was read from /proc
    evaluations, pruned, _unsent = row[10].split(" / ")
    assert int(evaluations) >= 1 and pruned == "1,500 of 1,500", row  # evaluated and pruned inside the run
    assert float(cost[2]) > 0, cost  # CPU per ICMP result, all of the daemon's processes
    assert "every target each interval: yes" in out


def test_startup_tiny() -> None:
    """A generated inventory of ~500 devices loads in-process and through `netmon check`."""
    out = run_bench(REPO / "bench" / "bench_startup.py", "--quick", "--devices", "500", "--no-append")
    (row,) = rows(out, "510")
    assert row[1] == "120"  # villages
    assert all(float(x) > 0 for x in row[3:6])
    assert "not judged" in out


def test_year_tiny() -> None:
    """A 300-target store runs 40 simulated days through the real store, rollup, evaluation and retention."""
    out = run_bench(REPO / "bench" / "bench_year.py", "--quick", "--targets", "300", "--days", "40", "--no-append",
                    timeout_s=180)
    assert re.search(r"^255 targets \(50 PCs", out, re.M), out
    (icmp,) = rows(out, "bytes per ICMP result")
    assert 100 < float(icmp[1]) < 1000
    (days,) = rows(out, "store by day")
    assert "d40" in days[1]
    assert re.search(r"evaluation day 40 / day 1 = \d+\.\d\dx", out)
    assert re.search(r"start-up on the day-40 store \d+\.\d\d s", out)
    assert "| **total** |" in out


def test_stall_tiny() -> None:
    """The daemon probes 300 loopback targets through a catch-up, a prune and evaluations; stalls are measured."""
    require(root=True)  # raw ICMP sockets on loopback
    out = run_bench(REPO / "bench" / "bench_stall.py", "--quick", "--sizes", "300", "--window", "10",
                    "--no-append", timeout_s=120)
    (row,) = rows(out, "300")
    assert float(row[3]) > 0  # the 10 ms sampler ran and measured something
    assert row[9].startswith("0 of ") and int(row[9].split(" of ")[1].split(",")[0]) > 0, row
    assert int(row[12].replace(",", "")) > 0  # the hour past retention was pruned
    assert int(row[13]) >= 1  # at least one evaluation ran
    assert "targets: longest stall" in out
