"""Line protocol escaping: byte-identical to influxdb-client's Point, and sanitised where the spec can't carry."""

from __future__ import annotations

import pytest
from influxdb_client import Point, WritePrecision

from netmon.sinks.lineproto import join_tags, line, sanitize_tag_value, tag_pairs

TRICKY_TAGS = [
    "Lai Châu", "Sìn Hồ, Huyện Đông Hải", "a=b c,d", "DOMAIN\\user", "C:\\Program Files\\x", "Xã Tân Lập",
    "trạm \"BTS\" 1", "đ=Đ", "100%", "ubnd-router", "comma,", "=lead", " lead space", "tab-free",
    "Ngã ba Kim Sơn\\bàn",
]
FIELDS = [
    {"average_response_ms": 12.0, "packets_received": 3, "percent_packet_loss": 0.0, "result_code": 0},
    {"label": 'Trạm "BTS" 1 \\ end\\', "ok": True, "bad": False, "x y": 1.5e-05, "big": 1e16},
    {"state": "unstable", "availability_pct": 98.75, "flagged": 1, "lat": 22.36, "lon": 103.24},
    {"neg": -3, "negf": -0.001, "reasons": "disk 93% full, RAM 2048 MB < 4096 MB, OS end of life"},
]


def point_text(measurement: str, tags: dict[str, str], fields: dict, ts_ms: int) -> str:
    p = Point(measurement)
    for k, v in tags.items():
        p.tag(k, v)
    for k, v in fields.items():
        p.field(k, v)
    return p.time(ts_ms, WritePrecision.MS).to_line_protocol()


@pytest.mark.parametrize("value", TRICKY_TAGS)
@pytest.mark.parametrize("fields", FIELDS)
def test_byte_identical_to_influxdb_client(value: str, fields: dict) -> None:
    tags = {"village": value, "device": "cpe 1", "agent": "lai-chau-01", "url": "10.20.7.2", "empty": ""}
    ours = line("ping", join_tags(tag_pairs(tags)), fields, 1_700_000_000_123)
    assert ours == point_text("ping", tags, fields, 1_700_000_000_123)


@pytest.mark.parametrize("measurement", ["ping", "net response", "a,b", "village_status"])
def test_measurement_escaping_matches(measurement: str) -> None:
    ours = line(measurement, join_tags(tag_pairs({"k": "v"})), {"f": 1}, 5)
    assert ours == point_text(measurement, {"k": "v"}, {"f": 1}, 5)


def test_field_types_are_telegrafs() -> None:
    text = line("ping", "", {"a": 1, "b": 1.0, "c": True, "d": "x", "e": float("nan")}, 1)
    assert text == 'ping a=1i,b=1,c=true,d="x" 1'


def test_no_fields_no_line() -> None:
    assert line("ping", "", {"rtt": float("inf")}, 1) is None


@pytest.mark.parametrize(("raw", "stored"), [
    ("line\nbreak", "line break"), ("cr\r\ntab\t", "cr  tab "), ("ends\\", "ends"), ("a\\,b", "a,b"),
    ("a\\ b", "a b"), ("a\\=b", "a=b"), ("keep\\this", "keep\\this"), ("ends\\\\", "ends"),
])
def test_sanitised_tag_values(raw: str, stored: str) -> None:
    assert sanitize_tag_value(raw) == stored


def test_sanitised_string_field_has_no_newline() -> None:
    text = line("pc_health", "", {"reasons": "a\nb"}, 1)
    assert text is not None and "\n" not in text and 'reasons="a b"' in text
