"""`netmon status`: the live full-screen view, or one snapshot with `--once` / on a pipe.

The view reads the store through a readonly connection, so it runs beside the daemon, over
SSH, on the agent box itself. Data is re-read at most once a second (and only the header when
no new result was committed); key presses redraw from the data already read, and sparklines
are queried only for the rows on screen, so paging through 5,000 villages stays instant.
"""

from __future__ import annotations

import codecs
import enum
import logging
import os
import select
import sqlite3
import sys
import termios
import time
import tty
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.live import Live

from netmon.analysis.maintenance import maintenance_windows
from netmon.analysis.status_view import Inventory, Snapshot, State, load_snapshot, read_header
from netmon.store import Store
from netmon.ui.status_layout import Filter, View, body_lines, paginate, parse_states
from netmon.ui.status_render import FOOTER_LINES, HEADER_LINES, render_once, render_screen, snapshot_json, sparklines

log = logging.getLogger(__name__)

REFRESH_S = 1.0
"""The store is re-read (and the screen redrawn) at most this often without a key press."""
MIN_KEY_REDRAW_S = 0.05
STATE_CYCLE: tuple[frozenset[State], ...] = (
    frozenset(), frozenset({State.DEGRADED, State.UNSTABLE, State.DOWN}), frozenset({State.DOWN}),
    frozenset({State.UNSTABLE}), frozenset({State.DEGRADED}), frozenset({State.UNKNOWN}),
    frozenset({State.GOOD}), frozenset({State.MAINTENANCE}))
_ESCAPES = {"\x1b[6~": "next", "\x1b[5~": "prev", "\x1b[B": "next", "\x1b[A": "prev",
            "\x1b[H": "first", "\x1b[F": "last", "\x1b[1~": "first", "\x1b[4~": "last"}
_KEYS = {"n": "next", " ": "next", "p": "prev", "g": "first", "G": "last", "q": "quit", "Q": "quit",
         "f": "flagged", "s": "state", "c": "clear", "/": "search"}


class Action(enum.StrEnum):
    """What a key press asks the loop to do."""

    REDRAW = "redraw"
    QUIT = "quit"


def filter_from_args(args: Any) -> Filter | None:
    """The --province/--commune/--state/--flagged filter; None (said on stderr) when --state is malformed."""
    try:
        return Filter(province=args.province, commune=args.commune, states=parse_states(args.state),
                      flagged=bool(args.flagged))
    except ValueError as exc:
        print(f"netmon status: {exc}", file=sys.stderr)
        return None


def run_status(config: Any, args: Any, console: Console) -> int:
    """Entry of `netmon status`: live view on a terminal, a snapshot with --once or on a pipe."""
    flt = filter_from_args(args)
    if flt is None:
        return 2
    store = Store.open(config.state_dir, readonly=True)
    try:
        source = StatusSource(config, store)
        interactive = console.is_terminal and sys.stdin.isatty() and not console.is_dumb_terminal
        if args.once or args.format == "json" or not interactive:
            return print_once(source, flt, args.format, console)
        return LiveStatus(source, View(filter=flt), console).run()
    finally:
        store.close()


class StatusSource:
    """The store plus what the config says about it: inventory, timezone, outputs."""

    def __init__(self, config: Any, store: Store) -> None:
        self.store = store
        self.inventory = Inventory.from_config(config)
        self.agent = config.settings.agent.name
        self.tz = ZoneInfo(config.settings.agent.timezone)
        self.outputs = [o.name for o in config.settings.outputs.influxdb]
        self.settings = config.settings
        self._seq = -1
        self._snapshot: Snapshot | None = None

    def snapshot(self, now: float | None = None) -> Snapshot:
        """The latest data; only the header is re-read when nothing new was committed."""
        now = time.time() if now is None else now
        seq = self.store.max_seq()
        if self._snapshot is None or seq != self._seq:
            self._snapshot = load_snapshot(self.store, self.inventory, self.agent, self.outputs, now,
                                           maintenance_windows(self.store.conn, self.settings, now))
            self._seq = seq
        else:
            self._snapshot.header = read_header(self.store, self.agent, self.outputs)
            self._snapshot.taken_ts = now
        return self._snapshot


def print_once(source: StatusSource, flt: Filter, fmt: str, console: Console) -> int:
    """Print one snapshot of the filtered view (text or JSON) and return 0."""
    snap = source.snapshot()
    shown = [r for r in snap.villages if flt.matches(r)]
    sparklines(source.store, shown, snap.taken_ts)
    if fmt == "json":
        console.out(snapshot_json(snap, flt, shown), highlight=False)
        return 0
    lines = body_lines(snap, flt)
    console.print(render_once(snap, flt, source.tz, console.width, lines, shown), soft_wrap=True)
    return 0


class LiveStatus:
    """The interactive loop: read keys in cbreak mode, redraw into the alternate screen."""

    def __init__(self, source: StatusSource, view: View, console: Console) -> None:
        self.source = source
        self.view = view
        self.console = console
        self.pages = 1
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def run(self) -> int:
        """Run until `q` (or Ctrl-C); the terminal is restored whatever happens."""
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd)
        try:
            tty.setcbreak(fd)
            with Live(console=self.console, screen=True, auto_refresh=False, transient=True) as live:
                return self._loop(live, fd)
        except KeyboardInterrupt:
            return 0
        finally:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)

    def _loop(self, live: Live, fd: int) -> int:
        snap = self.source.snapshot()
        next_load = time.monotonic() + REFRESH_S
        while True:
            live.update(self.frame(snap), refresh=True)
            drawn = time.monotonic()
            keys = self._read_keys(fd, max(0.0, next_load - drawn))
            for key in keys:
                if self.handle(key) is Action.QUIT:
                    return 0
            if time.monotonic() >= next_load:
                try:
                    snap = self.source.snapshot()
                except sqlite3.Error as exc:
                    log.warning("cannot read the store (%s); showing the previous data", exc)
                next_load = time.monotonic() + REFRESH_S
            elif keys:
                # Coalesce a burst of keys (held PgDn) into one redraw.
                time.sleep(max(0.0, MIN_KEY_REDRAW_S - (time.monotonic() - drawn)))

    def frame(self, snap: Snapshot) -> Any:
        """Lay out the current page for the current terminal size."""
        width, height = self.console.size
        shown = [r for r in snap.villages if self.view.filter.matches(r)]
        lines = body_lines(snap, self.view.filter)
        pages = paginate(lines, height - HEADER_LINES - 1 - FOOTER_LINES)
        self.pages = len(pages)
        self.view.page = max(0, min(self.view.page, len(pages) - 1))
        on_screen = [line.village for line in pages[self.view.page] if line.village is not None]
        sparklines(self.source.store, on_screen, snap.taken_ts)
        return render_screen(snap, self.view, pages, self.source.tz, width, shown)

    def _read_keys(self, fd: int, timeout_s: float) -> list[str]:
        ready, _, _ = select.select([fd], [], [], timeout_s)
        if not ready:
            return []
        data = self._decoder.decode(os.read(fd, 1024))
        return split_keys(data)

    def handle(self, key: str) -> Action:
        """Apply one key to the view."""
        view = self.view
        if view.prompt is not None:
            if key in ("\r", "\n"):
                view.filter.text, view.prompt, view.page = view.prompt.strip(), None, 0
            elif key == "\x1b":
                view.prompt = None
            elif key in ("\x7f", "\x08"):
                view.prompt = view.prompt[:-1]
            elif key.isprintable():
                view.prompt += key
            return Action.REDRAW
        action = _ESCAPES.get(key) or _KEYS.get(key)
        if action == "quit":
            return Action.QUIT
        if action == "search":
            view.prompt = view.filter.text
        elif action in ("next", "prev", "first", "last"):
            view.page = {"next": view.page + 1, "prev": view.page - 1, "first": 0,
                         "last": self.pages - 1}[action]
        elif action == "flagged":
            view.filter.flagged, view.page = not view.filter.flagged, 0
        elif action == "state":
            current = STATE_CYCLE.index(view.filter.states) if view.filter.states in STATE_CYCLE else 0
            view.filter.states, view.page = STATE_CYCLE[(current + 1) % len(STATE_CYCLE)], 0
        elif action == "clear":
            view.filter, view.page = Filter(), 0
        return Action.REDRAW


def split_keys(data: str) -> list[str]:
    """Split terminal input into keys, keeping escape sequences (`ESC [ 6 ~`) whole."""
    keys, i = [], 0
    while i < len(data):
        if data[i] == "\x1b" and i + 1 < len(data) and data[i + 1] in "[O":
            j = i + 2
            while j < len(data) and not (data[j].isalpha() or data[j] == "~"):
                j += 1
            keys.append(data[i:j + 1].replace("\x1bO", "\x1b["))
            i = j + 1
        else:
            keys.append(data[i])
            i += 1
    return keys
