"""bench/pprof_split.py reads a real CPU profile of prometheus-snmp-exporter and tells its SNMP work apart.

One snmpd and one exporter on loopback, scraped for a 2 s profile (about 10 s in all). Missing
tools skip with the reason, except under CI=true where they fail.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from tests.fixtures.need import missing as skip_or_fail

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO / "tests" / "probers" / "snmp"))

pytestmark = pytest.mark.slow


def test_split_of_a_real_exporter_profile(tmp_path: Path) -> None:
    """Every sample gets a kind; gosnmp stacks are SNMP, net/http ones HTTP; both kinds are present."""
    if missing := [t for t in ("snmpd", "snmpget", "prometheus-snmp-exporter") if shutil.which(t) is None]:
        skip_or_fail(f"test needs {', '.join(missing)}")
    import pprof_split
    from bench_snmp import COMMUNITY, SCALARS, start_snmpd
    from snmp_exporter_peer import Exporter, shares
    from snmp_helpers import stop

    snmpd, port = start_snmpd(tmp_path)
    try:
        exporter = Exporter(tmp_path, port, COMMUNITY, SCALARS)
        try:
            data, window = exporter.profiled(2, 4)
        finally:
            exporter.close()
    finally:
        stop(snmpd)
    assert window["scrapes"] > 0 and window["ok"] == window["scrapes"], window
    profile = pprof_split.parse(data)
    assert len(profile.stacks) >= 20, f"only {len(profile.stacks)} samples in 2 s of scraping"
    assert profile.duration_ns > 1_500_000_000
    parts = pprof_split.split(profile)
    assert parts["snmp"] > 0 and parts["http"] > 0, parts
    assert parts["snmp"] + parts["http"] + parts["runtime"] == profile.total_ns
    names = {name for stack, _ in profile.stacks for name in stack}
    assert any(n.startswith("github.com/gosnmp/gosnmp.") for n in names)
    assert any(n.startswith("net/http.") for n in names)
    for stack, _ in profile.stacks:
        if any(n.startswith("github.com/gosnmp/gosnmp.") for n in stack):
            assert pprof_split.kind(stack) == "snmp", stack
        elif any(n.startswith("net/http.(*conn).serve") for n in stack):
            assert pprof_split.kind(stack) == "http", stack
    share = shares(profile)
    assert share["snmp"] <= share["snmp_fair"] <= share["snmp"] + share["runtime"] + 1e-9
    assert 0 < share["stderr"] < 0.2


def test_parse_rejects_a_non_cpu_profile() -> None:
    """A heap profile (other sample types) is refused with the types it has, not misread as CPU."""
    import pprof_split

    def field(number: int, payload: bytes) -> bytes:
        return bytes([number << 3 | 2, len(payload)]) + payload

    value_type = field(1, b"\x08\x01\x10\x02")  # ValueType{type: strings[1], unit: strings[2]}
    data = value_type + field(6, b"") + field(6, b"alloc_space") + field(6, b"bytes")
    with pytest.raises(ValueError, match="alloc_space"):
        pprof_split.parse(data)
