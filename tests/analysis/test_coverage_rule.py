"""Which village devices measure coverage: one rule for analysis and the status view."""

from __future__ import annotations

from pathlib import Path

from netmon.analysis.catalog import catalog_from_config
from netmon.analysis.status_view import Inventory
from netmon.config import load_config

REPO = Path(__file__).resolve().parents[2]


def test_demo_villages_have_coverage_devices_in_analysis_and_status_alike():
    config = load_config(REPO / "config" / "demo.yaml")
    catalog = catalog_from_config(config)
    inventory = Inventory.from_config(config)
    # The demo's profile (demo-ping) does not say `coverage: true`, yet its cpe and bts devices count.
    assert len(catalog.villages) == 4
    for village in inventory.villages:
        assert set(village.coverage) == set(catalog.villages[village.id].devices)
        assert all("/cpe-" in d or "/bts-" in d for d in village.coverage)


def test_configured_coverage_kinds_decide_alone(tmp_path):
    text = (REPO / "config" / "demo.yaml").read_text().replace(
        "analysis:", "analysis:\n  coverage_kinds: [bts]", 1).replace("profiles: [demo-probes]",
                                                                       f"profiles: [{REPO / 'config' / 'demo-probes'}]")
    (tmp_path / "netmon.yaml").write_text(text)
    catalog = catalog_from_config(load_config(tmp_path / "netmon.yaml"))
    assert sorted(len(v.devices) for v in catalog.villages.values()) == [1, 1]  # only the two villages with a bts
