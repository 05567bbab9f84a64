"""InfluxDB line protocol, built fast and escaped exactly as influxdb-client's `Point` does.

Escaping follows the line-protocol spec (and is byte-identical to
`influxdb_client.Point.to_line_protocol` for every value it can carry losslessly):
measurement: `,` and space; tag keys, tag values and field keys: `,`, `=` and space;
string fields: `"` and `\\`. UTF-8 (Vietnamese diacritics) is written as is.

What the spec cannot carry is sanitised first, so a point never breaks a batch:
- newlines, carriage returns and tabs in tag values and string fields become a space;
- a backslash at the end of a tag value, or right before a character that gets escaped, is
  dropped (InfluxDB would read it as an escape and mangle the value or the line);
- empty tag values are omitted (the spec has no empty tag), non-finite floats are omitted
  (InfluxDB rejects them), and a point left without fields is not written at all.

Timestamps are integer milliseconds (`precision=ms`): two results of one series taken 1 ms or
more apart stay distinct, and a resend of the same result overwrites itself (idempotent).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping

from netmon.model import FieldValue

PRECISION = "ms"

_MEASUREMENT = str.maketrans({",": r"\,", " ": r"\ "})
_KEY = str.maketrans({",": r"\,", "=": r"\=", " ": r"\ "})
_STRING = str.maketrans({'"': r"\"", "\\": r"\\"})
_CONTROL = re.compile(r"[\r\n\t]")
# A backslash the parser would take as the start of an escape (or that ends the value).
_BAD_BACKSLASH = re.compile(r"\\+(?=[,= ]|$)")

_key_cache: dict[str, str] = {}
_measurement_cache: dict[str, str] = {}


def sanitize_tag_value(value: str) -> str:
    """The value InfluxDB will store for tag `value` (see the module docstring)."""
    if "\\" in value or "\n" in value or "\r" in value or "\t" in value:
        value = _BAD_BACKSLASH.sub("", _CONTROL.sub(" ", value))
    return value


def _escape_cached(text: str, cache: dict[str, str], table: dict[int, str]) -> str:
    """Escape `text` with `table`, remembering the answer: names repeat on every point."""
    escaped = cache.get(text)
    if escaped is None:
        escaped = _CONTROL.sub(" ", text).translate(table)
        if len(cache) < 10_000:
            cache[text] = escaped
    return escaped


def escape_key(key: str) -> str:
    """Escape a tag key or field key (cached)."""
    return _escape_cached(key, _key_cache, _KEY)


def escape_measurement(name: str) -> str:
    """Escape a measurement name (cached)."""
    return _escape_cached(name, _measurement_cache, _MEASUREMENT)


def escape_tag_value(value: str) -> str:
    """Sanitise and escape one tag value."""
    return sanitize_tag_value(value).translate(_KEY)


def tag_pairs(tags: Mapping[str, str]) -> list[tuple[str, str]]:
    """Escaped `key=value` pairs keyed by the raw key, empty values dropped; sort to combine."""
    pairs = []
    for key, value in tags.items():
        if value is None:
            continue
        escaped = escape_tag_value(str(value))
        if key and escaped:
            pairs.append((key, f"{escape_key(key)}={escaped}"))
    return pairs


def join_tags(pairs: Iterable[tuple[str, str]]) -> str:
    """`,k=v,k2=v2` in key order (InfluxDB's canonical order), or '' without tags."""
    ordered = sorted(pairs)
    return "".join("," + text for _key, text in ordered)


def format_fields(fields: Mapping[str, FieldValue]) -> str:
    """`k=v,...` in key order with Telegraf's types: int `1i`, float `1.5`, bool, "string"."""
    out = []
    for key in sorted(fields):
        value = fields[key]
        kind = type(value)
        if kind is float:
            if not math.isfinite(value):
                continue
            text = repr(value)
            if text.endswith(".0"):
                text = text[:-2]
        elif kind is int:
            text = f"{value}i"
        elif kind is bool:
            text = "true" if value else "false"
        elif kind is str:
            text = '"' + _CONTROL.sub(" ", value).translate(_STRING) + '"'
        elif value is None:
            continue
        else:
            raise TypeError(f"field {key!r}: unsupported type {kind.__name__}")
        out.append(f"{escape_key(key)}={text}")
    return ",".join(out)


def line(measurement: str, tags: str, fields: Mapping[str, FieldValue], ts_ms: int) -> str | None:
    """One line (without newline) from pre-joined `tags` (see `join_tags`); None without fields."""
    body = format_fields(fields)
    if not body:
        return None
    return f"{escape_measurement(measurement)}{tags} {body} {ts_ms}"


def to_ms(ts: float) -> int:
    """Unix seconds to the integer milliseconds we write."""
    return round(ts * 1000)
