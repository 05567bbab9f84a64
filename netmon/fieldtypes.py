"""Values checked at the boundary: every result is checked here before the store commits it.

A field value must be one of the declared types (`model.check_value`: bool, int within int64,
finite float, str without NUL, valid Unicode and at most 64 KiB), and a field never changes
type within a measurement: the type a (measurement, field) was first stored with is kept in
the `field_types` table, so the rule survives restarts and matches what InfluxDB will enforce
(it refuses a point whose field type differs from the shard's). An `int` for a `float` field is
widened (lossless, and probers computing `max()` of whole numbers do produce it); anything else
of another type is refused.

`None` means absent: the field is left out, as line protocol does. A refused value never
raises: its field is dropped, the result becomes `error` with a reason naming the measurement,
the field and the value's type, and the `refused_values` counter grows. Everything else in the
result, and every other result, is stored as usual.
"""

from __future__ import annotations

import logging
import math
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from netmon.model import INT64_MAX, INT64_MIN, ProbeResult, Sample, Status, check_value, text_problem

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS field_types (
    measurement TEXT NOT NULL, field TEXT NOT NULL, type TEXT NOT NULL, first_ts REAL NOT NULL,
    PRIMARY KEY (measurement, field)
);
"""
REFUSED_COUNTER = "refused_values"
MAX_PROBLEMS_IN_REASON = 3


@dataclass
class Checked:
    """What checking one batch of results found."""

    results: list[ProbeResult]
    new_types: list[tuple[str, str, str, float]] = field(default_factory=list)
    refused: int = 0


class FieldTypes:
    """The registry of field types, loaded from and saved into the store's `field_types` table."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        conn.executescript(SCHEMA)
        self.types: dict[tuple[str, str], str] = {
            (m, f): t for m, f, t in conn.execute("SELECT measurement, field, type FROM field_types")}
        self._unsaved: dict[tuple[str, str], tuple[str, float]] = {}
        self._logged: set[tuple[str, str, str]] = set()
        self._good_text: set[str] = set()
        """Names, tag values and ids already found storable: they repeat on every round."""

    def _ok_text(self, text: str) -> bool:
        if text in self._good_text:
            return True
        if text_problem(text):
            return False
        if len(self._good_text) > 200_000:
            self._good_text.clear()
        self._good_text.add(text)
        return True

    def check(self, results: Iterable[ProbeResult]) -> Checked:
        """Check every result; call `saved()` once the batch is committed."""
        out = Checked([])
        for result in results:
            problems: list[str] = []
            try:
                fixed = self._check_result(result, problems)
            except Exception as exc:  # not even the shape of a result: keep what can be named, as an error
                problems.append(f"result cannot be checked ({type(exc).__name__}: {exc}); samples dropped")
                fixed = unusable(result)
            if problems:
                out.refused += len(problems)
                fixed = _as_error(fixed, problems)
            out.results.append(fixed)
        out.new_types = [(m, f, t, ts) for (m, f), (t, ts) in self._unsaved.items()]
        return out

    def saved(self) -> None:
        """The new types of the last `check` are committed."""
        self._unsaved.clear()

    def _check_result(self, r: ProbeResult, problems: list[str]) -> ProbeResult:
        ts, duration = r.ts, r.duration_s
        if not isinstance(ts, int | float) or not math.isfinite(ts):
            problems.append(f"result time {ts!r} is not a finite number (stored as the time it was checked)")
            ts = time.time()
        if not isinstance(duration, int | float) or not math.isfinite(duration):
            duration = 0.0
        samples = []
        for s in r.samples:
            checked = self._check_sample(s, problems)
            if checked is not None:
                samples.append(checked)
        status = r.status
        if not isinstance(status, Status):
            try:
                status = Status(status)
            except ValueError:
                problems.append(f"status {_show(status)} is not one of {', '.join(s.value for s in Status)}")
                status = Status.ERROR
        changed = (ts, duration, status) != (r.ts, r.duration_s, r.status) or len(samples) != len(r.samples) \
            or any(a is not b for a, b in zip(samples, r.samples, strict=False))
        raw = (r.device_id, r.check, r.prober, r.reason)
        texts = raw if all(type(v) is str and self._ok_text(v) for v in raw[:3]) and type(r.reason) is str \
            and not text_problem(r.reason) else tuple(_clean_text(v) for v in raw)
        if changed or texts != raw:
            return ProbeResult(texts[0], texts[1], texts[2], status, texts[3], float(ts), float(duration),
                               tuple(samples))
        return r

    def _check_sample(self, s: Sample, problems: list[str]) -> Sample | None:
        measurement = s.measurement if isinstance(s.measurement, str) else None
        if not measurement or not self._ok_text(measurement):
            problems.append(f"sample with measurement {_show(s.measurement)} dropped (not a valid name)")
            return None
        tags = self._check_tags(measurement, s.tags, problems)
        if tags is None:
            return None
        if not isinstance(s.fields, Mapping):
            problems.append(f"{measurement}: fields are {type(s.fields).__name__}, not a mapping; sample dropped")
            return None
        fields: dict[str, Any] = {}
        types = self.types
        for name, raw in s.fields.items():
            # The common case first: a number of the type its field already has (checked at the first
            # store, so its name too). x - x is 0.0 only for a finite float (inf and nan give nan).
            kind = type(raw)
            if kind is float:
                if raw - raw == 0.0 and types.get((measurement, name)) == "float":
                    fields[name] = raw
                    continue
            elif kind is int and INT64_MIN <= raw <= INT64_MAX and types.get((measurement, name)) == "int":
                fields[name] = raw
                continue
            if raw is None:
                continue  # an absent value, as line protocol treats it: omitted, not an error
            if not isinstance(name, str) or not name or not self._ok_text(name):
                problems.append(f"{measurement}: field name {_show(name)} is not valid text; dropped")
                continue
            if type(raw) is str and raw in self._good_text:
                value, kind, problem = raw, "str", None
            else:
                value, kind, problem = check_value(raw)
                if problem is None and kind == "str" and len(value) < 256:
                    self._good_text.add(value)
            if problem is None:
                value, problem = self._same_type(measurement, name, value, kind)
            if problem is not None:
                problems.append(f"field {name!r} of {measurement}: {problem}; dropped")
                self._log_once(measurement, name, problem)
                continue
            fields[name] = value
        if not fields:
            return None
        if tags is s.tags and len(fields) == len(s.fields) and all(fields[k] is v for k, v in s.fields.items()):
            return s
        return Sample(measurement, fields, tags)

    def _same_type(self, measurement: str, name: str, value: Any, kind: str) -> tuple[Any, str | None]:
        key = (measurement, name)
        known = self.types.get(key)
        if known is None:
            self.types[key] = kind
            self._unsaved[key] = (kind, time.time())
            return value, None
        if known == kind:
            return value, None
        if known == "float" and kind == "int":
            return float(value), None
        return None, f"{kind} where the field is {known} (a field never changes type)"

    def _log_once(self, measurement: str, name: str, problem: str) -> None:
        # Once per field and kind of problem for the life of the process: a device sending a bad
        # value every minute must not write a line every minute. The counter keeps the total.
        key = (measurement, name, " ".join(problem.split(" ", 3)[:3]))
        if key not in self._logged and len(self._logged) < 10_000:
            self._logged.add(key)
            log.warning("refused a value: field %r of %s: %s; the field is dropped from such results, which are"
                        " stored as errors (counted in %r)", name, measurement, problem, REFUSED_COUNTER)

    def _check_tags(self, measurement: str, tags: Any, problems: list[str]) -> Mapping[str, str] | None:
        if not isinstance(tags, Mapping):
            problems.append(f"{measurement}: tags are {type(tags).__name__}, not a mapping; sample dropped")
            return None
        ok = self._ok_text
        if all(type(k) is str and type(v) is str and ok(k) and ok(v) for k, v in tags.items()):
            return tags
        return _fixed_tags(measurement, tags, problems)


def _fixed_tags(measurement: str, tags: Mapping[Any, Any], problems: list[str]) -> Mapping[str, str] | None:
    fixed = {}
    for key, value in tags.items():
        if isinstance(value, int | float) and not (isinstance(value, float) and not math.isfinite(value)):
            value = str(value)  # an ifIndex given as a number names the same series as its text
        if not isinstance(key, str) or not isinstance(value, str) or text_problem(key) or text_problem(value):
            problems.append(f"{measurement}: tag {_show(key)} = {_show(value)} cannot be stored; sample dropped")
            return None
        fixed[key] = value
    return fixed


def unusable(r: Any) -> ProbeResult:
    """A stand-in for something that is not a well-formed result: its names, no samples, now."""
    def text(name: str) -> str:
        return _clean_text(getattr(r, name, "") or "?")

    ts = getattr(r, "ts", None)
    ts = float(ts) if isinstance(ts, int | float) and math.isfinite(ts) else time.time()
    return ProbeResult(text("device_id"), text("check"), text("prober"), Status.ERROR, text("reason"), ts, 0.0, ())


def _as_error(r: ProbeResult, problems: list[str]) -> ProbeResult:
    shown = "; ".join(problems[:MAX_PROBLEMS_IN_REASON])
    if len(problems) > MAX_PROBLEMS_IN_REASON:
        shown += f"; and {len(problems) - MAX_PROBLEMS_IN_REASON} more"
    reason = f"refused value: {shown} (probe said: {getattr(r.status, 'value', r.status)}, {r.reason})"
    return replace(r, status=Status.ERROR, reason=reason)


def _clean_text(value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    if text_problem(text):
        text = text.replace("\x00", " ").encode(errors="replace").decode()[:4096]
    return text


def _show(value: Any) -> str:
    """A short, safe description of a bad value: its type, never the (possibly huge) value."""
    if isinstance(value, str):
        return repr(value[:40].replace("\x00", "\\0").encode(errors="replace").decode())
    return f"<{type(value).__name__}>"
