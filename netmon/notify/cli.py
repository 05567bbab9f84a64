"""`netmon notify test CHANNEL`, `netmon notify log`, `netmon mute TARGET DURATION`, `netmon maintenance ...`.

These work on the store while the daemon runs (WAL): a mute written here is read by the running
notifier on its next tick, no reload needed.
"""

from __future__ import annotations

import argparse
import json
import time

from netmon import i18n
from netmon.analysis.maintenance import windows_at
from netmon.config import Config
from netmon.config import load_config as _load_config
from netmon.config.values import parse_duration
from netmon.i18n import _, pgettext
from netmon.notify import maintenance, outbox, texts
from netmon.notify.channels import Outgoing, SendError, build_channel
from netmon.notify.component import open_conn
from netmon.notify.db import has_schema
from netmon.store import Store


def load_config(path, **kwargs) -> Config:
    """The config, whose `agent.language` then speaks (unless --lang or NETMON_LANG chose), as in netmon.cli."""
    config = _load_config(path, **kwargs)
    i18n.use_config_language(config.settings.agent.language)
    return config


def _when(ts: float, tz: str) -> str:
    """A time for people: `2026-12-02 14:05` / `02/12/2026 14:05` in the agent's timezone."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return i18n.datetime(datetime.fromtimestamp(ts, ZoneInfo(tz)))


def _notify_settings(config: Config):
    if config.settings.notify is None:
        raise SystemExit(_("netmon: this config has no notify: section (see config/netmon.example.yaml)"))
    return config.settings.notify


def _reader(config: Config) -> Store | None:
    """The store opened read-only (a technician may not write the state folder); None before any notification."""
    store = Store.open(config.state_dir, readonly=True)
    if not has_schema(store.conn):
        store.close()
        print(_("no notifications recorded yet (the daemon creates its outbox on start)"))
        return None
    return store


def cmd_test(config: Config, channel: str) -> int:
    """Send a test message now, outside the outbox; prints the outcome (never the URL)."""
    settings = _notify_settings(config)
    spec = settings.channels.get(channel)
    if spec is None:
        print(_("netmon: no channel {channel}; configured: {channels}").format(
            channel=repr(channel), channels=", ".join(sorted(settings.channels)) or _("none")))
        return 2
    lang = spec.language or settings.language
    agent = config.settings.agent.name
    now = time.time()
    msg = Outgoing(f"test:{channel}:{now:.0f}", texts.t(lang, "test.subject", channel=channel),
                   texts.t(lang, "test.body", channel=channel, agent=agent),
                   {"severity": "info", "province": "", "commune": "", "village": "", "operator": "",
                    "event_ts": now, "sent_ts": now, "late": 0, "repeat": 0, "agent": agent})
    try:
        build_channel(channel, spec, config.path.parent).send(msg)
    except SendError as exc:
        print(_("FAILED: {error}").format(error=exc))
        return 1
    print(_("sent a test message to channel {channel}").format(channel=channel))
    return 0


def cmd_log(config: Config, status: str | None, limit: int, as_json: bool) -> int:
    """Messages newest first: status, channel, event and send times, attempts, last error."""
    tz = config.settings.agent.timezone
    store = _reader(config)
    if store is None:
        return 0
    where, args = ("WHERE status = ?", (status,)) if status else ("", ())
    rows = [outbox.Row(*r) for r in store.conn.execute(
        f"SELECT {', '.join(outbox.COLUMNS)} FROM notify_outbox {where} ORDER BY id DESC LIMIT ?", (*args, limit))]
    muted = store.conn.execute("SELECT count(*) FROM notify_events WHERE composed = 2").fetchone()[0]
    store.close()
    if as_json:
        print(json.dumps([{"id": r.id, "key": r.key, "channel": r.channel, "status": r.status,
                           "subject": r.subject, "event_ts": r.event_ts, "sent_ts": r.sent_ts,
                           "attempts": r.attempts, "last_error": r.last_error, "possible_repeat": bool(r.in_doubt)}
                          for r in rows], ensure_ascii=False, indent=1))
        return 0
    statuses = {"pending": pgettext("message status", "pending"), "sending": pgettext("message status", "sending"),
                "sent": pgettext("message status", "sent"), "failed": pgettext("message status", "failed")}
    for r in rows:
        sent = _when(r.sent_ts, tz) if r.sent_ts else "-"
        line = _("#{id} {status} {channel} event {event}  sent {sent}  tries {tries}  {subject}").format(
            id=f"{r.id:<5}", status=f"{statuses.get(r.status, r.status):<8}", channel=f"{r.channel:<16}",
            event=_when(r.event_ts, tz), sent=sent, tries=r.attempts, subject=r.subject)
        print(line)
        if r.last_error and r.status != "sent":
            print(_("        reason: {error}").format(error=r.last_error))
    print(_("{n} message(s) shown; {muted} event(s) recorded but not sent (maintenance or upstream)").format(
        n=len(rows), muted=muted))
    return 0


def cmd_events(config: Config, limit: int) -> int:
    """Recent events and what became of them: in which message, or why not sent."""
    tz = config.settings.agent.timezone
    store = _reader(config)
    if store is None:
        return 0
    rows = store.conn.execute(
        "SELECT e.id, e.event_ts, e.kind, e.action, e.province, e.commune, e.village, e.device, e.muted, e.composed,"
        " group_concat(l.outbox_id) FROM notify_events e LEFT JOIN notify_links l ON l.event_id = e.id"
        " GROUP BY e.id ORDER BY e.id DESC LIMIT ?", (limit,)).fetchall()
    store.close()
    fates = {0: _("waiting (grouping)"), 1: _("in message #{m}"), 2: _("not sent: {muted}"),
             3: _("not sent: no route")}
    for eid, ts, kind, action, prov, com, vil, dev, muted, composed, msgs in rows:
        where = " / ".join(p for p in (prov, com, vil) if p) or dev
        fate = fates.get(composed, "?").format(m=msgs or "-", muted=muted)
        if composed == 0 and msgs:
            fate = _("in message #{m}, more channels waiting").format(m=msgs)
        print(f"{eid:<6} {_when(ts, tz)}  {kind}.{action:<8} {where}  -> {fate}")
    print(_("{n} event(s) shown").format(n=len(rows)))
    return 0


def cmd_mute(config: Config, target: str, duration: str, reason: str) -> int:
    """Store an ad-hoc maintenance window for a device, village, commune or province."""
    try:
        scope = maintenance.resolve_target(target, config.all_devices)
        seconds = parse_duration(duration)
    except ValueError as exc:
        print(f"netmon: {exc}")
        return 2
    store = open_conn(config.state_dir)
    with store.transaction() as conn:
        wid = maintenance.add_window(conn, scope, seconds, reason)
    store.close()
    until = _when(time.time() + seconds, config.settings.agent.timezone)
    print(_("maintenance #{id}: {scope} until {until}: {reason}").format(
        id=wid, scope=" / ".join(scope.values()), until=until, reason=reason or "-"))
    return 0


def cmd_import(config: Config, path: str, timezone: str | None) -> int:
    """Import planned power cuts (commune,start,end,reason; local times) as windows; all rows or none."""
    import csv
    from datetime import datetime
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(timezone or config.settings.agent.timezone)
    rows, problems = [], []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        for n, rec in enumerate(csv.reader(fh), start=1):
            if not rec or not "".join(rec).strip() or (n == 1 and rec[0].strip().lower() in ("commune", "xã", "xa")):
                continue
            if len(rec) < 3:
                problems.append(f"{path}:{n}: " + _("need commune,start,end[,reason]"))
                continue
            try:
                scope = maintenance.resolve_target(rec[0].strip(), config.all_devices)
                start = datetime.fromisoformat(rec[1].strip()).replace(tzinfo=zone).timestamp()
                end = datetime.fromisoformat(rec[2].strip()).replace(tzinfo=zone).timestamp()
                if end <= start:
                    raise ValueError(_("end is not after start"))
            except ValueError as exc:
                problems.append(f"{path}:{n}: " + _("{problem} (times like 2026-12-05 07:00, in {zone})").format(
                    problem=exc, zone=zone.key))
                continue
            rows.append((scope, start, end, rec[3].strip() if len(rec) > 3 else _("planned power cut")))
    if problems:
        print("\n".join(problems) + "\n" + _("netmon: {n} problem(s); nothing was imported").format(n=len(problems)))
        return 2
    store = open_conn(config.state_dir)
    added = 0
    with store.transaction() as conn:
        for scope, start, end, reason in rows:
            text = json.dumps(dict(scope), ensure_ascii=False)
            if not conn.execute("SELECT 1 FROM maintenance WHERE scope = ? AND start_ts = ? AND end_ts = ?",
                                (text, start, end)).fetchone():  # importing the same file twice adds nothing
                maintenance.add_window(conn, scope, end - start, reason, start_ts=start)
                added += 1
    store.close()
    print(_("imported {added} window(s) ({known} already known) from {path}").format(
        added=added, known=len(rows) - added, path=path))
    return 0


def cmd_list(config: Config) -> int:
    """Ad-hoc windows open now or later, and config windows open now."""
    tz = config.settings.agent.timezone
    store = _reader(config)
    now = time.time()
    rows = [] if store is None else store.conn.execute(
        "SELECT id, scope, start_ts, end_ts, reason FROM maintenance WHERE ended_ts IS NULL AND end_ts > ?"
        " ORDER BY start_ts", (now,)).fetchall()
    settings = config.settings.notify
    for wid, scope, start, end, reason in rows:
        print(f"#{wid:<4} {' / '.join(json.loads(scope).values()) or _('agent')}  {_when(start, tz)}"
              f" .. {_when(end, tz)}  {reason}")
    for w in windows_at(settings.maintenance if settings else [], None, now):
        print(_("{source}  {scope}  until {until}  {reason}").format(
            source=w.source, scope=" / ".join(w.scope.values()) or _("agent"), until=_when(w.end_ts, tz),
            reason=w.reason))
    if store is not None:
        store.close()
    return 0


def cmd_end(config: Config, window_id: int) -> int:
    """End an ad-hoc window now."""
    store = open_conn(config.state_dir)
    with store.transaction() as conn:
        ok = maintenance.end_window(conn, window_id)
    store.close()
    print(_("maintenance #{id} ended").format(id=window_id) if ok else
          _("netmon: no open maintenance #{id}").format(id=window_id))
    return 0 if ok else 2


def add_parsers(add) -> None:
    """Register `notify`, `mute` and `maintenance` on the main parser (`add` is cli.build_parser's helper)."""
    notify = add("notify", run_notify, _("notifications: send a test message, show the outbox"))
    sub = notify.add_subparsers(dest="notify_cmd", required=True, metavar="test|log")
    test = sub.add_parser("test", help=_("send a test message to a channel now"))
    test.add_argument("channel")
    log = sub.add_parser("log", help=_("messages sent, pending and failed, with reasons"))
    log.add_argument("--status", choices=["pending", "sending", "sent", "failed"])
    log.add_argument("--limit", type=int, default=50)
    log.add_argument("--format", choices=["text", "json"], default="text")
    log.add_argument("--events", action="store_true",
                     help=_("events and their fate (message, maintenance, upstream)"))
    mute = add("mute", run_mute, _("no messages for a device, village, commune or province for a while"))
    mute.add_argument("target", metavar="TARGET", help=_("name or id of a device, village, commune or province"))
    mute.add_argument("duration", metavar="DURATION", help=_("e.g. 4h, 90m"))
    mute.add_argument("--reason", default="", help=_('e.g. "EVN cắt điện"'))
    maint = add("maintenance", run_maintenance, _("add, import, list or end maintenance windows"))
    msub = maint.add_subparsers(dest="maint_cmd", required=True, metavar="add|import|list|end")
    madd = msub.add_parser("add", help=_("a window from now: netmon maintenance add SCOPE --for 4h --reason ..."))
    madd.add_argument("target", metavar="SCOPE")
    madd.add_argument("--for", dest="duration", required=True, help=_("e.g. 4h"))
    madd.add_argument("--reason", default="")
    mimp = msub.add_parser("import", help=_("CSV of planned power cuts: commune,start,end,reason (local times)"))
    mimp.add_argument("file")
    mimp.add_argument("--timezone", help=_("zone of the CSV's times (default: the agent's)"))
    msub.add_parser("list", help=_("windows open now or later"))
    end = msub.add_parser("end", help=_("end an ad-hoc window now"))
    end.add_argument("id", type=int)
    for p in (test, log, *msub.choices.values()):
        # -c also after the subcommand (`netmon notify log -c x.yaml`), as a technician types it
        if not any("--config" in a.option_strings for a in p._actions):
            p.add_argument("-c", "--config", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run_notify(args: argparse.Namespace) -> int:
    """Dispatch `netmon notify ...`."""
    if args.notify_cmd == "test":
        return cmd_test(load_config(args.config), args.channel)
    # the log, mutes and windows need no channel secrets: a technician without them can run these
    config = load_config(args.config, secrets=False)
    if args.events:
        return cmd_events(config, args.limit)
    return cmd_log(config, args.status, args.limit, args.format == "json")


def run_mute(args: argparse.Namespace) -> int:
    """`netmon mute TARGET DURATION --reason ...`."""
    return cmd_mute(load_config(args.config, secrets=False), args.target, args.duration, args.reason)


def run_maintenance(args: argparse.Namespace) -> int:
    """Dispatch `netmon maintenance list|end`."""
    config = load_config(args.config, secrets=False)
    if args.maint_cmd == "add":
        return cmd_mute(config, args.target, args.duration, args.reason)
    if args.maint_cmd == "import":
        return cmd_import(config, args.file, args.timezone)
    return cmd_list(config) if args.maint_cmd == "list" else cmd_end(config, args.id)
