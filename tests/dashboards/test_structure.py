"""Dashboard JSON structure: what Grafana needs to provision them with no clicking."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DASHBOARDS = Path(__file__).resolve().parents[2] / "dashboards"
FILES = sorted(DASHBOARDS.glob("*.json"))


def load(path: Path) -> dict:
    return json.loads(path.read_text())


def queries(dash: dict) -> list[str]:
    return [t["query"] for p in dash["panels"] for t in p["targets"]]


def test_the_four_dashboards_exist():
    assert {p.name for p in FILES} == {"province-overview.json", "village-detail.json",
                                       "commune-equipment.json", "agent-health.json"}


def test_committed_json_is_what_build_py_generates(tmp_path):
    before = {p.name: p.read_text() for p in FILES}
    subprocess.run([sys.executable, str(DASHBOARDS / "build.py")], check=True, capture_output=True)
    after = {p.name: p.read_text() for p in sorted(DASHBOARDS.glob("*.json"))}
    assert before == after, "dashboards/*.json are stale: run python3 dashboards/build.py and commit"


def test_uids_stable_unique_and_ids_null():
    uids = [load(p)["uid"] for p in FILES]
    assert len(set(uids)) == len(uids)
    for path in FILES:
        dash = load(path)
        assert dash["id"] is None
        assert 8 <= len(dash["uid"]) <= 40 and re.fullmatch(r"[a-z0-9-]+", dash["uid"])
        assert "__inputs" not in dash and "${DS_" not in path.read_text()


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_panels_have_datasource_queries_and_valid_grid(path):
    dash = load(path)
    ids = [p["id"] for p in dash["panels"]]
    assert len(set(ids)) == len(ids)
    for p in dash["panels"]:
        assert p["datasource"] == {"type": "influxdb", "uid": "netmon-influx"}, p["title"]
        assert p["targets"], p["title"]
        assert 0 < p["gridPos"]["w"] <= 24 and p["gridPos"]["x"] + p["gridPos"]["w"] <= 24
        for t in p["targets"]:
            assert t["rawQuery"] is True and "$timeFilter" in t["query"], (p["title"], t["query"])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_variables_referenced_exist(path):
    dash = load(path)
    defined = {v["name"] for v in dash["templating"]["list"]}
    builtin = {"timeFilter", "__interval", "col", "tag_village", "tag_device", "tag_ifDescr", "tag_agent",
               "tag_output", "tag_server", "tag_commune", "tag_port"}
    texts = queries(dash) + [v["query"] for v in dash["templating"]["list"]]
    texts += [t.get("alias", "") for p in dash["panels"] for t in p["targets"]]
    used = {m for text in texts for m in re.findall(r"\$(\w+)", text)}
    assert used - builtin <= defined, used - builtin - defined


def test_variables_chain_province_commune_village():
    dash = load(DASHBOARDS / "village-detail.json")
    names = [v["name"] for v in dash["templating"]["list"]]
    assert names == ["province", "commune", "village"]
    by_name = {v["name"]: v for v in dash["templating"]["list"]}
    assert "$province" in by_name["commune"]["query"]
    assert "$province" in by_name["village"]["query"] and "$commune" in by_name["village"]["query"]
    assert all(v["includeAll"] for v in by_name.values())


def test_provisioning_files_reference_the_same_uid():
    ds = yaml.safe_load((DASHBOARDS / "provisioning/datasources/netmon.yaml").read_text())
    assert ds["datasources"][0]["uid"] == "netmon-influx"
    providers = yaml.safe_load((DASHBOARDS / "provisioning/dashboards/netmon.yaml").read_text())
    assert providers["providers"][0]["type"] == "file"


def test_geomap_uses_numeric_lat_lon_fields():
    dash = load(DASHBOARDS / "province-overview.json")
    (geomap,) = [p for p in dash["panels"] if p["type"] == "geomap"]
    query = geomap["targets"][0]["query"]
    assert 'last("lat") AS "latitude"' in query and 'last("lon") AS "longitude"' in query
    assert geomap["targets"][0]["resultFormat"] == "table"
