"""Draw a status `Snapshot` as text: header, provinces -> communes -> villages, footer.

Lines are laid out by terminal cell width (rich.cells), so Vietnamese names with diacritics
line up, and columns are dropped rather than wrapped when the terminal is narrow. Every state
has a symbol as well as a colour, so the view reads the same with NO_COLOR or on paper.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from rich.cells import cell_len, set_cell_size
from rich.console import Group
from rich.text import Text

from netmon import i18n
from netmon.analysis.sparkline import last_hour_rounds
from netmon.analysis.status_view import Snapshot, Source, State, VillageRow
from netmon.i18n import N_, _, display, localise
from netmon.store import Store
from netmon.ui.status_layout import Filter, Line, View
from netmon.ui.status_words import service_words, state_word

SYMBOL = {State.GOOD: "✓", State.DEGRADED: "▲", State.UNSTABLE: "≈", State.DOWN: "✗", State.UNKNOWN: "?",
          State.MAINTENANCE: "⚒"}
STYLE = {State.GOOD: "green", State.DEGRADED: "yellow", State.UNSTABLE: "bold dark_orange",
         State.DOWN: "bold red", State.UNKNOWN: "dim", State.MAINTENANCE: "blue"}
FLAG = "⚑"
SPARK_BLOCKS = "▁▂▃▄▅▆▇█"
SPARK_ALL_DOWN = "_"
SPARK_NO_DATA = "·"
PROVISIONAL_MARK = "*"
STALE_HEARTBEAT_S = 90.0
"""The daemon writes its heartbeat every few seconds; older than this, it is not running."""

# (key, title, width, right-aligned); the order they are dropped in narrow terminals is _DROP.
_COLUMNS = (("state", N_("state"), 11, False), ("avail", N_("avail%"), 6, True), ("loss", N_("loss%"), 5, True),
            ("p95", N_("p95ms"), 5, True), ("spark", N_("last hour"), 12, False))
def _columns_in_language() -> list[tuple[str, str, int, bool]]:
    """The columns with translated titles, each at least as wide as its title and its widest value."""
    out = []
    for key, title, width, right in _COLUMNS:
        need = cell_len(_(title))
        if key == "state":  # "≈ unstable*": symbol, word and the provisional mark
            need = max(need, *(cell_len(f"{SYMBOL[s]} {state_word(s)}{PROVISIONAL_MARK}") for s in State))
        out.append((key, _(title), max(width, need), right))
    return out
_DROP = ("spark", "p95", "note", "loss", "avail")
NAME_MIN, NAME_MAX, NOTE_MIN = 16, 28, 15
HEADER_LINES, FOOTER_LINES = 3, 3


class Columns:
    """Column widths for one terminal width, dropping the least useful columns first."""

    def __init__(self, width: int, tz: ZoneInfo | None = None) -> None:
        self.width = width
        self.tz = tz
        """The agent's timezone, for times in the note column (the end of a maintenance window)."""
        self.active = _columns_in_language()
        self.note = True
        for victim in _DROP:
            if self._rest() - (NOTE_MIN if self.note else 0) >= NAME_MIN:
                break
            if victim == "note":
                self.note = False
            else:
                self.active = [c for c in self.active if c[0] != victim]
        rest = self._rest()
        self.name_w = max(4, min(NAME_MAX, rest - NOTE_MIN) if self.note else rest)
        self.note_w = max(0, rest - self.name_w) if self.note else 0

    def _rest(self) -> int:
        return self.width - sum(w + 1 for _k, _t, w, _r in self.active) - (1 if self.note else 0)

    def has(self, key: str) -> bool:
        """True when column `key` fits."""
        return any(c[0] == key for c in self.active)


def _fit(text: str, width: int, right: bool = False) -> str:
    """Pad or cut `text` to exactly `width` cells, marking a cut with an ellipsis."""
    if width <= 0:
        return ""
    if cell_len(text) > width:
        return set_cell_size(text, width - 1) + "…"
    pad = " " * (width - cell_len(text))
    return pad + text if right else text + pad


def _num(value: Any, digits: int) -> str:
    if not isinstance(value, int | float):
        return "-"
    if digits == 2 and value >= 99.995:
        return "100"
    return localise(f"{value:.{digits}f}")


def fmt_age(seconds: float) -> str:
    """`42s`, `5m`, `3h`, `2d`: how long ago, to a glance's precision."""
    s = max(0.0, seconds)
    if s < 90:
        return f"{s:.0f}s"
    if s < 90 * 60:
        return f"{s / 60:.0f}m"
    if s < 48 * 3600:
        return f"{s / 3600:.0f}h"
    return f"{s / 86400:.0f}d"


def fmt_clock(ts: float, tz: ZoneInfo, now: float) -> str:
    """Wall-clock time in the agent's timezone, with the date when it is not today."""
    when, today = datetime.fromtimestamp(ts, tz), datetime.fromtimestamp(now, tz)
    return when.strftime("%H:%M:%S") if when.date() == today.date() else i18n.datetime(when)


def sparklines(store: Store, rows: Sequence[VillageRow], now: float) -> None:
    """Fill `spark` of `rows` with the last hour of their coverage devices' pings, one block per slice."""
    rounds = last_hour_rounds(store, rows, now)
    for r in rows:
        r.spark = "".join(_spark_char(up, total) for up, total in rounds[r.info.id])


def _spark_char(up: int, total: int) -> str:
    if total == 0:
        return SPARK_NO_DATA
    if up == 0:
        return SPARK_ALL_DOWN
    return SPARK_BLOCKS[min(len(SPARK_BLOCKS) - 1, int(up / total * len(SPARK_BLOCKS) - 1e-9))]


# ---------------------------------------------------------------- drawing


def _column_titles(cols: Columns) -> Text:
    text = Text(_fit(_("place"), cols.name_w), style="bold")
    for _key, title, width, right in cols.active:
        text.append(" " + _fit(title, width, right), style="bold")
    if cols.note:
        text.append(" " + _fit(_("flag / operator"), cols.note_w), style="bold")
    text.rstrip()
    return text


def _village_text(row: VillageRow, cols: Columns) -> Text:
    state = row.state
    mark = PROVISIONAL_MARK if row.source is Source.PROVISIONAL else ""
    text = Text(_fit("    " + display(row.info.name), cols.name_w))
    cells = {"state": (f"{SYMBOL[state]} {state_word(state)}{mark}", STYLE[state]),
             "avail": (_num(row.availability_pct, 2), ""), "loss": (_num(row.loss_pct, 1), ""),
             "p95": (_num(row.rtt_p95_ms, 0), ""), "spark": (row.spark, STYLE[state])}
    for key, _title, width, right in cols.active:
        value, style = cells[key]
        text.append(" " + _fit(value, width, right), style=style)
    if cols.note:
        # The template lets a language put the operator first, so a narrow column still shows it.
        note = _("{flag} {cause} {operator}").format(flag=FLAG, cause=_(row.cause),
                                                      operator=display(row.info.operator)) if row.flagged else ""
        if row.maintenance:  # instead of the flag: the flag is held while the planned work lasts
            note = _("until {time}: {reason}").format(time=datetime.fromtimestamp(
                row.maintenance["end_ts"], cols.tz).strftime("%H:%M"), reason=display(row.maintenance["reason"]))
        text.append(" " + _fit(note, cols.note_w), style="bold" if row.flagged and not row.maintenance else "")
    return text


def _commune_text(line: Line, cols: Columns) -> Text:
    commune = line.commune
    assert commune is not None
    name = "  " + display(commune.info.name) + (_(" (cont.)") if line.context else "")
    text = Text(_fit(name, cols.name_w), style="bold")
    total = len(commune.info.office)
    if total and not line.context:
        summary = _("office {up}/{total} up").format(up=commune.up, total=total)
        summary += _(", down: {names}").format(names=", ".join(commune.down)) if commune.down else ""
        summary += _(", {n} unknown").format(n=commune.unknown) if commune.unknown else ""
        summary += _(", maintenance: {names}").format(names=", ".join(commune.maintenance)) \
            if commune.maintenance else ""
        summary += "; " + "; ".join(service_words(t) for t in commune.services) if commune.services else ""
        style = "red" if commune.down or commune.services else ("dim" if commune.unknown == total else "")
        text.append(" " + _fit(summary, cols.width - cols.name_w - 1), style=style)
    return text


def render_line(line: Line, cols: Columns) -> Text:
    """One body line as styled text exactly `cols.width` cells wide or narrower."""
    if line.kind == "province":
        return Text(_fit(display(line.province) + (_(" (cont.)") if line.context else ""), cols.width).rstrip(),
                    style="bold underline")
    if line.kind == "commune":
        text = _commune_text(line, cols)
    else:
        assert line.village is not None
        text = _village_text(line.village, cols)
    text.rstrip()
    return text


def output_health_text(name: str, health: dict[str, Any], now: float) -> Text:
    """` · main STALLED 4 min (HTTP 400: ...)`, ` · main: 3 dead letters`; empty when all is well."""
    text = Text()
    if health.get("state", "ok") != "ok":
        what = _("SERVER FAULT") if health["state"] == "server_fault" else _("STALLED")
        text.append(f" · {name} {what} {fmt_age(now - float(health.get('since_ts') or now))}"
                    f" ({str(health.get('problem', ''))[:80]})", style="bold red")
    pending = int(health.get("dead_letters_pending") or 0)
    if pending or health.get("dead_lettering"):
        text.append(_(" · {name}: {n} dead letters").format(name=name, n=pending)
                    + (_(", setting points aside") if health.get("dead_lettering") else "")
                    + " (netmon deadletters list)", style="yellow")
    return text


def header_text(snapshot: Snapshot, flt: Filter, tz: ZoneInfo, width: int,
                shown: Sequence[VillageRow]) -> list[Text]:
    """Agent line, outputs line and the villages-by-state line."""
    h, now = snapshot.header, snapshot.taken_ts
    first = Text(f"netmon {h.name}", style="bold")
    if h.heartbeat_ts is None:
        first.append(_(" · agent has not run yet (no heartbeat in the store)"), style="bold red")
    else:
        if now - h.heartbeat_ts > STALE_HEARTBEAT_S:
            first.append(_(" · AGENT NOT RUNNING (last seen {age} ago)").format(age=fmt_age(now - h.heartbeat_ts)),
                         style="bold red")
        first.append(_(" · {n} targets").format(n=i18n.number(h.targets) if h.targets is not None else "?"))
        first.append(_(" · {rate} probes/s").format(rate=localise(f"{h.results_per_s or 0:.1f}")))
        if h.last_round_ts:
            first.append(_(" · last round {clock} ({age} ago)").format(
                clock=fmt_clock(h.last_round_ts, tz, now), age=fmt_age(now - h.last_round_ts)))
        first.append(_(" · lag {lag}s").format(lag=localise(f"{h.scheduler_lag_s or 0:.2f}")))
    second = Text(_("InfluxDB backlog: "))
    second.append(", ".join(f"{k} {i18n.number(v)}" for k, v in h.backlog.items()) or _("no output configured"),
                  style="yellow" if any(v > 10_000 for v in h.backlog.values()) else "")
    for name, health in h.outputs.items():
        second.append(output_health_text(name, health, now))
    second.append(_(" · at {clock}").format(clock=fmt_clock(now, tz, now)))
    if any(r.source is Source.PROVISIONAL for r in shown):
        second.append(_(" · {mark} provisional: latest pings, no analysis yet").format(mark=PROVISIONAL_MARK),
                      style="dim")
    counts = snapshot.state_counts(shown)
    third = Text(_("{n} villages: ").format(n=i18n.number(len(shown))))
    for i, (state, n) in enumerate(counts.items()):
        third.append(", " if i else "")
        third.append(f"{SYMBOL[state]} {n} {state_word(state)}", style=STYLE[state])
    if flt.describe():
        third.append(_(" · filter: {filter}").format(filter=flt.describe()), style="cyan")
    return [_cut(t, width) for t in (first, second, third)]


def _cut(text: Text, width: int) -> Text:
    text.truncate(width, overflow="ellipsis")
    return text


def footer_text(snapshot: Snapshot, shown: Sequence[VillageRow], width: int) -> list[Text]:
    """Flagged villages by operator, and the worst office PCs."""
    by_op = snapshot.flagged_by_operator(shown)
    flagged = Text(_("{flag} flagged {n}").format(flag=FLAG, n=sum(by_op.values())), style="bold" if by_op else "")
    if by_op:
        flagged.append(": " + ", ".join(f"{display(op)} {n}" for op, n in by_op.items()))
    pcs = Text(_("worst PCs: "))
    pcs.append(", ".join(f"{display(p.name)} {p.score}" for p in snapshot.worst_pcs) or _("none scored yet"))
    return [_cut(flagged, width), _cut(pcs, width)]


def keys_text(view: View, page: int, pages: int, width: int) -> Text:
    """The key help line, or the search being typed."""
    if view.prompt is not None:
        return _cut(Text(f"/{view.prompt}▏ " + _("Enter apply · Esc cancel"), style="cyan"), width)
    return _cut(Text(_("q quit · / search · f flagged · s state · c clear · n/p page {page}/{pages}").format(
        page=page + 1, pages=pages), style="dim"), width)


def render_screen(snapshot: Snapshot, view: View, pages: Sequence[Sequence[Line]], tz: ZoneInfo,
                  width: int, shown: Sequence[VillageRow]) -> Group:
    """One full frame of the live view."""
    cols = Columns(width, tz)
    page = min(view.page, len(pages) - 1)
    parts = header_text(snapshot, view.filter, tz, width, shown)
    parts.append(_column_titles(cols))
    parts += [render_line(line, cols) for line in pages[page]]
    parts += footer_text(snapshot, shown, width)
    parts.append(keys_text(view, page, len(pages), width))
    return Group(*parts)


def render_once(snapshot: Snapshot, flt: Filter, tz: ZoneInfo, width: int,
                lines: Sequence[Line], shown: Sequence[VillageRow]) -> Group:
    """The whole filtered list, for `--once` (cron, mail, pipes)."""
    cols = Columns(width, tz)
    parts = header_text(snapshot, flt, tz, width, shown)
    parts.append(_column_titles(cols))
    parts += [render_line(line, cols) for line in lines]
    parts += footer_text(snapshot, shown, width)
    return Group(*parts)


def _describe_in_english(flt: Filter) -> str:
    """The filter as JSON carries it: the same words in every language (scripts compare it)."""
    with i18n.language("en"):
        return flt.describe()


def snapshot_json(snapshot: Snapshot, flt: Filter, shown: Sequence[VillageRow]) -> str:
    """`--format json`: everything the text view shows, as one JSON document."""
    h = snapshot.header
    doc = {
        "generated_ts": snapshot.taken_ts,
        "agent": {"name": h.name, "heartbeat_ts": h.heartbeat_ts, "targets": h.targets,
                  "results_per_s": h.results_per_s, "last_round_ts": h.last_round_ts,
                  "scheduler_lag_s": h.scheduler_lag_s, "backlog": h.backlog, "outputs": h.outputs},
        "filter": _describe_in_english(flt),
        "villages": [dict(r.as_dict(), last_hour=r.spark) for r in shown],
        "communes": [c.as_dict() for c in snapshot.communes.values()],
        "state_counts": {s.value: n for s, n in snapshot.state_counts(shown).items()},
        "flagged_by_operator": snapshot.flagged_by_operator(shown),
        "flags_source": "flags table" if snapshot.flag_table else "village_status",
        "worst_pcs": [{"id": p.device_id, "name": p.name, "score": p.score, "reasons": p.reasons}
                      for p in snapshot.worst_pcs],
    }
    return json.dumps(doc, ensure_ascii=False, indent=2)
