"""InfluxDB line protocol, built fast and escaped exactly as influxdb-client's `Point` does.

It is also how samples are stored (codec.py, format 2): a stored sample is the line InfluxDB
will get minus the device's tags and the timestamp, so the forwarder joins strings instead of
decoding and re-encoding every point (issue 21). `parse_sample` reads one back for the local
readers (status view, digests).

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

from netmon.model import FieldValue, Sample

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


# ---------------------------------------------------------------- the stored form (codec format 2)

HEAD_SEP = "\t"
"""Between a stored sample's head (measurement and its own tags) and its fields. Escaped line
protocol never holds a raw tab or newline (they are sanitised to spaces), so both separate safely."""

_shapes: dict[tuple, str | None] = {}
_heads: dict[tuple, str | None] = {}


def fields_text(fields: Mapping[str, FieldValue]) -> str | None:
    """The fields as stored and sent, or None when line protocol cannot carry them exactly.

    Results of one check have the same field names and types every round, so numbers go
    through a %-template made once per shape (one C-level `%` instead of Python work per field).
    Other shapes take `format_fields` after an exactness check: a None (not written), a tab or
    newline in a string or a name (sanitised to a space) would not read back as stored.
    """
    values = tuple(fields.values())
    shape = (tuple(fields), tuple(map(type, values)))
    template = _shapes.get(shape, "")
    if template == "":
        template = _template(fields) if all(t is int or t is float for t in shape[1]) else None
        if len(_shapes) < 10_000:
            _shapes[shape] = template
    if template is not None:
        # Non-finite floats never get here: the store refuses them (fieldtypes.py).
        return template % values
    for key, value in fields.items():
        if value is None or _CONTROL.search(key) or (type(value) is str and _CONTROL.search(value)):
            return None
    return format_fields(fields)


def _template(fields: Mapping[str, FieldValue]) -> str | None:
    if any(_CONTROL.search(k) for k in fields):
        return None
    return ",".join(escape_key(k).replace("%", "%%") + ("=%di" if type(v) is int else "=%r")
                    for k, v in fields.items())


def stored_sample(sample: Sample) -> str | None:
    """One sample as stored in format 2: `measurement,tag=v...<TAB>field=v,...`.

    None when line protocol cannot carry the sample exactly (an empty tag value, a tag value
    the sanitiser would change, a control character in a name or string): its row is then
    stored as JSON (format 1), so the store never loses what a prober measured.
    """
    key = (sample.measurement, *sample.tags.items())
    head = _heads.get(key, "")
    if head == "":
        head = _head(sample) if _exact_names(sample) else None
        if len(_heads) >= 100_000:
            _heads.clear()
        _heads[key] = head
    if head is None:
        return None
    fields = fields_text(sample.fields)
    return None if fields is None else head + HEAD_SEP + fields


def _exact_names(sample: Sample) -> bool:
    if not sample.measurement or _CONTROL.search(sample.measurement):
        return False
    return all(k and v and not _CONTROL.search(k) and sanitize_tag_value(v) == v
               for k, v in sample.tags.items())


def _head(sample: Sample) -> str:
    return escape_measurement(sample.measurement) + join_tags(tag_pairs(sample.tags))


def parse_head(head: str) -> tuple[str, dict[str, str]]:
    """(measurement, tags) of a stored head."""
    parts = _split_unescaped(head, ",")
    tags = {}
    for part in parts[1:]:
        key, value = _split_unescaped(part, "=", 1)
        tags[_unescape(key)] = _unescape(value)
    return _unescape(parts[0]), tags


def parse_sample(text: str) -> Sample:
    """A stored format-2 sample back as a Sample (values as InfluxDB stores them)."""
    head, _sep, body = text.partition(HEAD_SEP)
    measurement, tags = parse_head(head)
    return Sample(measurement, parse_fields(body), tags)


def parse_fields(body: str) -> dict[str, FieldValue]:
    """`k=1i,f=2.5,b=true,s="x"` back into typed values."""
    fields: dict[str, FieldValue] = {}
    i, n = 0, len(body)
    while i < n:
        j = i
        while body[j] != "=":
            j += 2 if body[j] == "\\" else 1
        key = _unescape(body[i:j])
        j += 1
        if body[j] == '"':
            k, chars = j + 1, []
            while body[k] != '"':
                if body[k] == "\\" and body[k + 1] in '"\\':
                    k += 1
                chars.append(body[k])
                k += 1
            value: FieldValue = "".join(chars)
            i = k + 2
        else:
            k = body.find(",", j)
            k = n if k < 0 else k
            raw = body[j:k]
            if raw.endswith("i"):
                value = int(raw[:-1])
            elif raw in ("true", "false"):
                value = raw == "true"
            else:
                value = float(raw)
            i = k + 1
        fields[key] = value
    return fields


def _split_unescaped(text: str, sep: str, limit: int = -1) -> list[str]:
    if "\\" not in text:
        return text.split(sep, limit)
    parts, start, i = [], 0, 0
    while i < len(text) and (limit < 0 or len(parts) < limit):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == sep:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return parts


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return text.replace("\\,", ",").replace("\\=", "=").replace("\\ ", " ")
