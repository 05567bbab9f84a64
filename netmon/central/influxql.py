"""Read-only InfluxQL over the `/query` HTTP API: the one way the central views read InfluxDB.

InfluxDB 1.x serves `/query` natively, 2.x through its DBRP mapping (database = bucket, token in
an `Authorization: Token` header), 3.x and clustered/cloud 1.x-compatible endpoints the same way,
so the province and national views need no engine of their own. Answers are read with
`chunked=true`, one JSON document per line, so a large answer streams instead of being loaded
whole. Only SELECT and SHOW statements are sent: the central view never writes.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from netmon.config.schema import InfluxOutput

CHUNK_SIZE = 10_000
"""Rows per streamed chunk: bounds the memory one answer takes."""


class CentralError(Exception):
    """InfluxDB could not answer a central query (unreachable, refused, bad query); the message says why."""


@dataclass(frozen=True, slots=True)
class Row:
    """One row of an answer: its series' tags and its columns (time in epoch seconds)."""

    measurement: str
    tags: dict[str, str]
    values: dict[str, Any]

    @property
    def ts(self) -> float:
        """The row's time in seconds."""
        return float(self.values["time"]) / 1000.0


def quote_ident(name: str) -> str:
    """An InfluxQL identifier in double quotes."""
    return '"' + name.replace("\\", "\\\\").replace('"', '\\"') + '"'


def quote_str(value: str) -> str:
    """An InfluxQL string literal in single quotes (tag values with any text round-trip)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


class InfluxQL:
    """A read-only client for one configured InfluxDB output."""

    def __init__(self, output: InfluxOutput, timeout_s: float | None = None) -> None:
        self.output = output
        self.url = output.url.rstrip("/") + "/query"
        self.database = output.database if output.api == "v1" else output.bucket
        self.timeout_s = timeout_s if timeout_s is not None else max(30.0, output.timeout)
        self.queries = 0
        """How many statements were sent (the benchmark reports it)."""

    def _headers(self) -> dict[str, str]:
        out = {"Accept": "application/json"}
        if self.output.api == "v2" and self.output.token is not None:
            out["Authorization"] = f"Token {self.output.token.reveal()}"
        elif self.output.username:
            password = self.output.password.reveal() if self.output.password else ""
            out["Authorization"] = "Basic " + base64.b64encode(f"{self.output.username}:{password}".encode()).decode()
        return out

    def rows(self, query: str) -> Iterator[Row]:
        """Run one read-only statement and yield its rows as they stream in."""
        head = query.lstrip().split(None, 1)[0].upper() if query.strip() else ""
        if head not in ("SELECT", "SHOW"):
            raise CentralError(f"refusing to send a {head or 'empty'} statement: the central view only reads")
        params = {"q": query, "db": self.database or "", "epoch": "ms", "chunked": "true",
                  "chunk_size": str(CHUNK_SIZE)}
        if self.output.api == "v1" and self.output.retention_policy:
            params["rp"] = self.output.retention_policy
        request = urllib.request.Request(self.url, data=urllib.parse.urlencode(params).encode(),
                                         headers=self._headers(), method="POST")
        self.queries += 1
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                for line in answer:
                    if line.strip():
                        yield from _rows_of(json.loads(line), query)
        except urllib.error.HTTPError as exc:
            detail = exc.read().decode("utf-8", "replace").strip()[:300]
            raise CentralError(f"InfluxDB at {self.output.url} refused the query ({exc.code}): {detail}") from None
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CentralError(f"cannot reach InfluxDB at {self.output.url}: {reason}") from None


def _rows_of(document: dict[str, Any], query: str) -> Iterator[Row]:
    if "error" in document:
        raise CentralError(f"InfluxDB error: {document['error']}")
    for result in document.get("results", ()):
        if "error" in result:
            raise CentralError(f"InfluxDB error: {result['error']} (query: {query[:200]})")
        for series in result.get("series", ()):
            columns, tags, name = series["columns"], series.get("tags") or {}, series.get("name", "")
            for values in series.get("values", ()):
                yield Row(name, tags, dict(zip(columns, values, strict=True)))
