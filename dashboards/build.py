"""Generate netmon's Grafana dashboards (InfluxQL) into dashboards/*.json.

The JSON files are committed; this script is how they are made, so every panel shares the
same datasource reference, variables and conventions. Run `python3 dashboards/build.py`
after editing and commit both. Queries are InfluxQL so one set of dashboards serves
InfluxDB 1.x natively, 2.x through a DBRP mapping and 3.x natively.
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATASOURCE = {"type": "influxdb", "uid": "netmon-influx"}
VILLAGE_FILTER = '"province" =~ /^$province$/ AND "commune" =~ /^$commune$/'
NOW_WINDOW = "\"window\" = '1h'"


def variable(name: str, query: str, label: str) -> dict:
    """A query variable with multi-select and All (regex-matched in queries)."""
    return {
        "name": name, "label": label, "type": "query", "datasource": DATASOURCE, "query": query,
        "definition": query, "refresh": 2, "includeAll": True, "multi": True, "allValue": ".*",
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]}, "sort": 1,
    }


PROVINCE = variable("province", 'SHOW TAG VALUES FROM "village_status" WITH KEY = "province"', "Province")
COMMUNE = variable("commune", 'SHOW TAG VALUES FROM "village_status" WITH KEY = "commune" '
                   'WHERE "province" =~ /^$province$/', "Commune")
VILLAGE = variable("village", 'SHOW TAG VALUES FROM "village_status" WITH KEY = "village" '
                   'WHERE "province" =~ /^$province$/ AND "commune" =~ /^$commune$/', "Village")
AGENT = variable("agent", 'SHOW TAG VALUES FROM "netmon_agent" WITH KEY = "agent"', "Agent")


def target(query: str, ref: str = "A", fmt: str = "time_series", alias: str = "") -> dict:
    """A raw InfluxQL target."""
    t = {"refId": ref, "rawQuery": True, "resultFormat": fmt, "query": query, "datasource": DATASOURCE}
    if alias:
        t["alias"] = alias
    return t


def panel(title: str, kind: str, grid: tuple[int, int, int, int], targets: list[dict], unit: str = "",
          **extra: object) -> dict:
    """A panel with the provisioned datasource and its targets."""
    x, y, w, h = grid
    p = {"title": title, "type": kind, "gridPos": {"x": x, "y": y, "w": w, "h": h},
         "datasource": DATASOURCE, "targets": targets,
         "fieldConfig": {"defaults": {"unit": unit} if unit else {}, "overrides": []}, "options": {}}
    p.update(extra)
    return p


STATE_MAPPINGS = [{"type": "value", "options": {
    "good": {"color": "green", "index": 0, "text": "✔ good"},
    "degraded": {"color": "yellow", "index": 1, "text": "▲ degraded"},
    "unstable": {"color": "orange", "index": 2, "text": "✖ unstable"},
    "down": {"color": "red", "index": 3, "text": "■ down"},
    "unknown": {"color": "gray", "index": 4, "text": "? unknown"},
}}]


def dashboard(uid: str, title: str, panels: list[dict], variables: list[dict], tags: list[str]) -> dict:
    """A complete dashboard model with stable uid and panel ids."""
    for number, p in enumerate(panels, start=1):
        p["id"] = number
    return {
        "id": None, "uid": uid, "title": title, "tags": ["netmon", *tags], "timezone": "browser",
        "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1, "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"}, "templating": {"list": variables},
        "annotations": {"list": []}, "panels": panels,
    }


def province_overview() -> dict:
    """Map of villages by state, counts, flagged list, availability per commune."""
    latest = (f'SELECT last("lat") AS "latitude", last("lon") AS "longitude", last("state") AS "state", '
              f'last("availability_pct") AS "availability_pct", last("cause") AS "cause" FROM "village_status" '
              f'WHERE {NOW_WINDOW} AND {VILLAGE_FILTER} AND $timeFilter GROUP BY "province", "commune", "village"')
    geomap = panel("Villages by coverage state", "geomap", (0, 0, 14, 14), [target(latest, fmt="table")],
                   options={"view": {"id": "fit", "lat": 22.3, "lon": 103.5, "zoom": 8},
                            "basemap": {"type": "default", "name": "Basemap"},
                            "layers": [{"type": "markers", "name": "Villages", "location": {"mode": "auto"},
                                        "config": {"style": {"color": {"field": "state", "fixed": "gray"},
                                                             "size": {"fixed": 6}}}}]})
    geomap["fieldConfig"]["defaults"]["mappings"] = STATE_MAPPINGS
    panels = [geomap]
    for i, state in enumerate(["good", "degraded", "unstable", "down", "unknown"]):
        q = (f'SELECT count("code") FROM (SELECT last("state_code") AS "code" FROM "village_status" '
             f'WHERE {NOW_WINDOW} AND {VILLAGE_FILTER} AND $timeFilter GROUP BY "village", "commune") '
             f"WHERE \"code\" = {i}")
        panels.append(panel(f"Villages {state}", "stat", (14 + (i % 2) * 5, (i // 2) * 4, 5, 4),
                            [target(q, fmt="table")], options={"colorMode": "background", "graphMode": "none"}))
    flagged = (f'SELECT last("cause") AS "cause", last("availability_pct") AS "availability_pct", '
               f'last("loss_pct") AS "loss_pct", last("outages") AS "outages", last("flagged") AS "flagged", '
               f'last("flagged_since") AS "flagged_since" FROM "village_status" WHERE {NOW_WINDOW} AND '
               f'"flagged" = 1 AND {VILLAGE_FILTER} AND $timeFilter GROUP BY "commune", "village", "operator"')
    panels.append(panel("Flagged villages (telecom follow-up)", "table", (0, 14, 24, 8),
                        [target(flagged, fmt="table")], options={"showHeader": True}))
    availability = (f'SELECT mean("availability_pct") FROM "village_status" WHERE "window" = \'24h\' AND '
                    f'{VILLAGE_FILTER} AND $timeFilter GROUP BY "commune"')
    panels.append(panel("Availability per commune (24 h window)", "bargauge", (0, 22, 24, 8),
                        [target(availability, fmt="table")], unit="percent"))
    return dashboard("netmon-province", "netmon · Province overview", panels, [PROVINCE, COMMUNE], ["province"])


def village_detail() -> dict:
    """Smoke-style latency band with loss, availability, outages, devices."""
    sel = f'{VILLAGE_FILTER} AND "village" =~ /^$village$/'
    band = (f'SELECT min("minimum_response_ms") AS "min", mean("average_response_ms") AS "avg", '
            f'max("maximum_response_ms") AS "max" FROM "ping" WHERE {sel} AND $timeFilter '
            f'GROUP BY time($__interval), "village" fill(null)')
    loss = (f'SELECT mean("percent_packet_loss") AS "loss" FROM "ping" WHERE {sel} AND $timeFilter '
            f'GROUP BY time($__interval), "village" fill(null)')
    latency = panel("Latency band (min / avg / max) with loss", "timeseries", (0, 0, 24, 10),
                    [target(band, "A", alias="$tag_village $col"), target(loss, "B", alias="$tag_village loss %")],
                    unit="ms")
    latency["fieldConfig"]["overrides"] = [{"matcher": {"id": "byRegexp", "options": ".*loss.*"}, "properties": [
        {"id": "unit", "value": "percent"}, {"id": "custom.axisPlacement", "value": "right"},
        {"id": "custom.drawStyle", "value": "bars"}]}]
    avail = (f'SELECT mean("availability_pct") AS "availability" FROM "village_status" WHERE {NOW_WINDOW} AND '
             f'{sel} AND $timeFilter GROUP BY time($__interval), "village" fill(null)')
    outages = (f'SELECT max("outages") AS "outages" FROM "village_status" WHERE {NOW_WINDOW} AND {sel} AND '
               f'$timeFilter GROUP BY time($__interval), "village" fill(null)')
    devices = (f'SELECT last("percent_packet_loss") AS "loss_pct", last("average_response_ms") AS "avg_ms", '
               f'last("result_code") AS "result_code" FROM "ping" WHERE {sel} AND $timeFilter '
               f'GROUP BY "village", "device", "kind", "url", "check"')  # two ICMP checks of a device: two rows
    panels = [latency,
              panel("Availability (1 h window)", "timeseries", (0, 10, 12, 8),
                    [target(avail, alias="$tag_village")], unit="percent"),
              panel("Outages in the last hour", "timeseries", (12, 10, 12, 8),
                    [target(outages, alias="$tag_village")], unit="short"),
              panel("Devices of the village", "table", (0, 18, 24, 8), [target(devices, fmt="table")])]
    return dashboard("netmon-village", "netmon · Village detail", panels, [PROVINCE, COMMUNE, VILLAGE], ["village"])


def commune_equipment() -> dict:
    """Router traffic and errors, PC health, service response times."""
    sel = VILLAGE_FILTER
    traffic = (f'SELECT mean("in_bps") AS "in", mean("out_bps") AS "out" FROM "interface" WHERE {sel} AND '
               f'$timeFilter GROUP BY time($__interval), "device", "ifDescr" fill(null)')
    errors = (f'SELECT non_negative_derivative(max("ifInErrors"), 1m) AS "in_errors", '
              f'non_negative_derivative(max("ifOutErrors"), 1m) AS "out_errors" FROM "interface" WHERE {sel} '
              f'AND $timeFilter GROUP BY time($__interval), "device", "ifDescr" fill(null)')
    pcs = (f'SELECT last("score") AS "score", last("reasons") AS "reasons" FROM "pc_health" WHERE {sel} AND '
           f'$timeFilter GROUP BY "commune", "device"')
    disks = (f'SELECT last("used_pct") AS "used_pct" FROM "hr_storage" WHERE {sel} AND $timeFilter '
             f'GROUP BY "commune", "device", "hrStorageDescr"')
    http = (f'SELECT mean("response_time") AS "response_time" FROM "http_response" WHERE {sel} AND $timeFilter '
            f'GROUP BY time($__interval), "commune", "server" fill(null)')
    tcp = (f'SELECT mean("response_time") AS "response_time" FROM "net_response" WHERE {sel} AND $timeFilter '
           f'GROUP BY time($__interval), "commune", "server", "port" fill(null)')
    panels = [
        panel("Router interface traffic", "timeseries", (0, 0, 12, 9),
              [target(traffic, alias="$tag_device $tag_ifDescr $col")], unit="bps"),
        panel("Interface errors per minute", "timeseries", (12, 0, 12, 9),
              [target(errors, alias="$tag_device $tag_ifDescr $col")], unit="short"),
        panel("Office PCs: aging score (higher = replace sooner)", "table", (0, 9, 12, 9),
              [target(pcs, fmt="table")]),
        panel("Disks used", "table", (12, 9, 12, 9), [target(disks, fmt="table")], unit="percent"),
        panel("Service response time (HTTP)", "timeseries", (0, 18, 12, 9),
              [target(http, alias="$tag_server from $tag_commune")], unit="s"),
        panel("Port response time (TCP)", "timeseries", (12, 18, 12, 9),
              [target(tcp, alias="$tag_server:$tag_port from $tag_commune")], unit="s"),
    ]
    return dashboard("netmon-commune", "netmon · Commune equipment", panels, [PROVINCE, COMMUNE], ["commune"])


def agent_health() -> dict:
    """Probes/s, scheduler lag, forward backlog, dropped and dead-lettered points, stalls, refused values."""
    sel = '"agent" =~ /^$agent$/'

    def series(field: str, title: str, grid: tuple[int, int, int, int], unit: str, by: str = "") -> dict:
        group = f', "{by}"' if by else ""
        q = (f'SELECT mean("{field}") AS "{field}" FROM "netmon_agent" WHERE {sel} AND $timeFilter '
             f'GROUP BY time($__interval), "agent"{group} fill(null)')
        alias = "$tag_agent" + (f" $tag_{by}" if by else "")
        return panel(title, "timeseries", grid, [target(q, alias=alias)], unit=unit)

    panels = [
        series("results_per_s", "Results per second", (0, 0, 12, 8), "short"),
        series("scheduler_lag_s", "Scheduler lag", (12, 0, 12, 8), "s"),
        series("backlog_points", "Forward backlog (points not yet acknowledged)", (0, 8, 12, 8), "short",
               by="output"),
        series("oldest_unsent_age_s", "Age of the oldest unsent point", (12, 8, 12, 8), "s", by="output"),
        series("dropped_unsent", "Dropped results (store over its disk cap)", (0, 16, 12, 8), "short"),
        series("dead_lettered", "Dead-lettered points (rejected by InfluxDB)", (12, 16, 12, 8), "short",
               by="output"),
        series("stalled_s", "Output stalled for (0 while points get through)", (0, 24, 12, 8), "s", by="output"),
        series("dead_letters_pending", "Dead letters waiting (netmon deadletters list)", (12, 24, 12, 8), "short",
               by="output"),
        series("refused_values", "Values refused at the store (bad type, NaN, field type change)", (0, 32, 12, 8),
               "short"),
    ]
    return dashboard("netmon-agent", "netmon · Agent health", panels, [AGENT], ["agent"])


DASHBOARDS = {
    "province-overview.json": province_overview,
    "village-detail.json": village_detail,
    "commune-equipment.json": commune_equipment,
    "agent-health.json": agent_health,
}


def main() -> None:
    """Write every dashboard JSON next to this script."""
    for name, build in DASHBOARDS.items():
        (HERE / name).write_text(json.dumps(build(), indent=2, ensure_ascii=False) + "\n")
        print(f"wrote dashboards/{name}")


if __name__ == "__main__":
    main()
