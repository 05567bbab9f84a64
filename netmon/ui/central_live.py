"""`netmon status --from influxdb` on a terminal: the local live view's screen and keys, fed from InfluxDB.

The data is re-read at most every `CENTRAL_REFRESH_S`, and each read is the same fixed set of
statements as one `--once` snapshot (heartbeats, window tags, village statuses, commune pings,
HTTP and TCP services, PCs: seven, each bounded by a time range), whatever the number of agents
and villages; keys (pages, filters, search) redraw from what was read. Agents report every
heartbeat and evaluate every few minutes, so reading more often would show nothing new and
would load the shared InfluxDB once per open terminal. When InfluxDB stops answering, the last
picture stays on screen with a red line saying since when.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console, Group
from rich.text import Text

from netmon.analysis.status_view import Snapshot
from netmon.central.influxql import CentralError
from netmon.central.province import Picture
from netmon.i18n import _
from netmon.ui.status import LiveStatus
from netmon.ui.status_layout import View, body_lines, paginate
from netmon.ui.status_render import (
    FOOTER_LINES,
    HEADER_LINES,
    Columns,
    _column_titles,
    footer_text,
    header_text,
    keys_text,
    render_line,
)

log = logging.getLogger(__name__)

CENTRAL_REFRESH_S = 10.0
"""Seconds between two reads of InfluxDB (the screen redraws on keys in between)."""


class CentralSource:
    """The province picture, re-read from InfluxDB at most every `CENTRAL_REFRESH_S`."""

    store = None
    """No store: the central view has no sparklines (the last hour per village would be one more read)."""

    def __init__(self, load: Callable[[], Picture], tz: ZoneInfo, clock: Callable[[], float] = time.monotonic,
                 refresh_s: float = CENTRAL_REFRESH_S) -> None:
        self.load, self.tz, self.clock, self.refresh_s = load, tz, clock, refresh_s
        self.picture: Picture | None = None
        self.failing: tuple[float, str] | None = None
        """Since when (wall clock) and why InfluxDB does not answer; None while it does."""
        self._loaded_at = 0.0

    def snapshot(self, now: float | None = None) -> Snapshot:
        """The picture of the last read; a new read when the previous one is `refresh_s` old."""
        if self.picture is None or self.clock() - self._loaded_at >= self.refresh_s:
            self._loaded_at = self.clock()
            try:
                self.picture = self.load()
                self.failing = None
            except CentralError as exc:
                if self.picture is None:
                    raise
                if self.failing is None:
                    log.warning("InfluxDB does not answer (%s); showing the last picture", exc)
                    self.failing = (time.time(), str(exc))
        assert self.picture is not None
        return self.picture.snapshot


class LiveCentral(LiveStatus):
    """The local live view's loop and keys; the header names the agents instead of one agent's outputs."""

    source: CentralSource

    def __init__(self, source: CentralSource, view: View, console: Console) -> None:
        super().__init__(source, view, console)  # type: ignore[arg-type]

    def frame(self, snap: Snapshot) -> Any:
        """Lay out the current page for the current terminal size."""
        from netmon.ui.central import agents_line

        width, height = self.console.size
        shown = [r for r in snap.villages if self.view.filter.matches(r)]
        pages = paginate(body_lines(snap, self.view.filter), height - HEADER_LINES - 1 - FOOTER_LINES)
        self.pages = len(pages)
        self.view.page = max(0, min(self.view.page, len(pages) - 1))
        parts = header_text(snap, self.view.filter, self.source.tz, width, shown)
        assert self.source.picture is not None
        line = agents_line(self.source.picture, self.source.tz)
        if self.source.failing is not None:
            since, why = self.source.failing
            line = Text(_("InfluxDB not answering since {since} ({why}); data as of {taken}").format(
                since=f"{datetime.fromtimestamp(since, self.source.tz):%H:%M:%S}", why=why,
                taken=f"{datetime.fromtimestamp(snap.taken_ts, self.source.tz):%H:%M:%S}"), style="bold red")
        parts[1] = line
        cols = Columns(width)
        parts.append(_column_titles(cols))
        parts += [render_line(ln, cols) for ln in pages[self.view.page]]
        parts += footer_text(snap, shown, width)
        parts.append(keys_text(self.view, self.view.page, len(pages), width))
        return Group(*parts)
