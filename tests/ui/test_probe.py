"""`netmon probe` against loopback devices of a tmp config: real ICMP to 127.x, no store written."""

from __future__ import annotations

import io
import json
from argparse import Namespace
from pathlib import Path

import pytest
from rich.console import Console

from netmon.config import load_config
from netmon.probe_cmd import run_probe
from netmon.probers.icmp import IcmpPermissionError, check_icmp_permission
from netmon.ui.probe import TargetError, find_device
from tests.fixtures.need import missing


@pytest.fixture(autouse=True)
def icmp_allowed() -> None:
    """Skip (or fail in CI) when this process may not send ICMP echo."""
    try:
        check_icmp_permission()
    except IcmpPermissionError as exc:
        missing(f"ICMP is not permitted here: {exc}")


def probe(config_path: Path, target: str, fmt: str = "text") -> tuple[int, str]:
    """Run `netmon probe` in-process into a 100-column colourless console."""
    console = Console(width=100, color_system=None, file=io.StringIO(), record=True)
    rc = run_probe(load_config(config_path), Namespace(target=target, format=fmt), console)
    return rc, console.export_text()


def test_probe_by_name_shows_ok_reason_and_thresholds(province: Path) -> None:
    rc, text = probe(province, "cpe-truong-hoc")
    assert rc == 0, text
    assert "lai-chau/sin-ho/lang-mo-nam-tam/cpe-truong-hoc" in text
    assert "reachability  icmp    ✓ ok" in text and "3/3 replies" in text
    assert "village degraded: loss > 1 %, p95 > 150 ms, avail < 99.5 %" in text
    assert "this probe: loss 0 %" in text and "within the good limits" in text
    assert "1/1 checks ok" in text
    assert not (province.parent / "state").exists(), "probe must not write a store"


def test_ambiguous_name_lists_the_ids(province: Path) -> None:
    rc, text = probe(province, "cpe-nha-van-hoa")
    assert rc == 2
    assert "matches 4 devices" in text
    for village in ("sin-ho/ta-phin", "sin-ho/nam-cuoi", "phong-tho/mu-sang", "phong-tho/huoi-luong"):
        assert f"lai-chau/{village}/cpe-nha-van-hoa" in text


def test_host_of_an_inventory_device_and_a_bare_host(province: Path) -> None:
    rc, text = probe(province, "127.0.21.2")
    assert rc == 0 and "cpe-ubnd-thon (lai-chau/phong-tho/si-lo-lau/cpe-ubnd-thon)" in text
    rc, text = probe(province, "127.0.0.77", "json")
    assert rc == 0, text
    doc = json.loads(text)
    assert doc["device"]["profile"] == "ping" and doc["device"]["target"] == "127.0.0.77"
    (result,) = doc["results"]
    assert result["status"] == "ok" and result["reason"].startswith("3/3 replies")
    assert result["samples"][0]["fields"]["packets_received"] == 3


def test_unknown_word_is_a_typo_not_a_host(province: Path) -> None:
    config = load_config(province)
    with pytest.raises(TargetError, match="did you mean one of:\n  cpe-truong-hoc"):
        find_device(config, "cpe-truong-hocc")
    assert find_device(config, "lai-chau/sin-ho/ubnd-router").host == "127.0.10.1"
