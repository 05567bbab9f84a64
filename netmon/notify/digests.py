"""Scheduled digests: a daily follow-up per operator (open link flags, CSV attached), a weekly
province summary and the weekly PC replacement list, at a local time in the agent's timezone.

Each digest occurrence has a key (`digest:operator-daily:Viettel:2026-12-02:mail`), so a restart
around the scheduled minute never sends it twice, and an agent that was down at 07:30 sends the
day's digest when it comes back (late, and marked so). Occurrences before the first start of the
notifier are history and are not sent.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from netmon.config.notify_schema import DigestSpec, NotifySettings
from netmon.notify import texts
from netmon.notify.db import get_meta, set_meta

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
CSV_COLUMNS = ("province", "commune", "village", "operator", "cause", "since", "availability_pct", "loss_pct",
               "outages", "rtt_p95_ms")


def last_occurrence(spec: DigestSpec, tz: str, now: float) -> datetime:
    """The latest scheduled moment at or before `now` (aware, in `tz`; wall-clock across DST)."""
    zone = ZoneInfo(tz)
    local = datetime.fromtimestamp(now, zone).replace(tzinfo=None)
    hh, mm = (int(x) for x in spec.at.split(":"))
    cand = local.replace(hour=hh, minute=mm, second=0, microsecond=0)
    if spec.kind in ("province-weekly", "pc-weekly"):
        cand -= timedelta(days=(local.weekday() - WEEKDAYS.index(spec.weekday)) % 7)
        step = timedelta(days=7)
    else:
        step = timedelta(days=1)
    if cand > local:
        cand -= step
    return cand.replace(tzinfo=zone)


def _flag_rows(conn: sqlite3.Connection, where: str, args: tuple, tz: str) -> list[dict[str, Any]]:
    out = []
    for prov, com, vil, op, cause, raised, evidence in conn.execute(
            "SELECT province, commune, village, operator, cause, raised_ts, evidence FROM flags WHERE " + where
            + " ORDER BY operator, commune, village", args).fetchall():
        ev = json.loads(evidence or "{}")
        nums = ev.get("trend") if isinstance(ev.get("trend"), dict) else ev
        out.append({"province": prov, "commune": com, "village": vil, "operator": op, "cause": cause,
                    "since": texts.local_time(raised, tz), "availability_pct": nums.get("availability_pct"),
                    "loss_pct": nums.get("loss_pct"), "outages": nums.get("outages"),
                    "rtt_p95_ms": nums.get("rtt_p95_ms"), "_ev": ev})
    return out


def _csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, CSV_COLUMNS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def _line(lang: str, r: dict[str, Any]) -> str:
    return f"- {r['commune']} / {r['village']}: {texts.t(lang, 'since', since=r['since'])}; " \
           f"{texts.evidence_line(lang, r['_ev'])}"


def _operator_daily(conn: sqlite3.Connection, spec: DigestSpec, lang: str, tz: str) -> list[tuple[str, str, str, str]]:
    """(key part, subject, body, csv) per operator with open link flags."""
    rows = _flag_rows(conn, "cleared_ts IS NULL AND cause = 'link'", (), tz)
    out = []
    for op in sorted({r["operator"] for r in rows}):
        if spec.operator and op not in spec.operator:
            continue
        mine = [r for r in rows if r["operator"] == op]
        subject = texts.t(lang, "digest.operator.subject", operator=op or "?", count=len(mine))
        body = "\n".join([texts.t(lang, "digest.operator.head", operator=op or "?", count=len(mine)), ""]
                         + [_line(lang, r) for r in mine])
        out.append((op or "-", subject, body, _csv(mine)))
    return out


def _province_weekly(conn: sqlite3.Connection, lang: str, tz: str, since: float, agent: str) -> tuple[str, str, str]:
    raised = _flag_rows(conn, "raised_ts >= ?", (since,), tz)
    still = conn.execute("SELECT count(*) FROM flags WHERE cleared_ts IS NULL").fetchone()[0]
    muted = conn.execute("SELECT count(*) FROM notify_events WHERE composed = 2 AND event_ts >= ?",
                         (since,)).fetchone()[0]
    by_cause = {c: sum(1 for r in raised if r["cause"] == c) for c in ("link", "power", "upstream", "pending")}
    subject = texts.t(lang, "digest.weekly.subject", agent=agent, count=len(raised))
    lines = [texts.t(lang, "digest.weekly.head", count=len(raised), still=still, muted=muted),
             ", ".join(f"{texts.t(lang, 'cause.' + c)}: {n}" for c, n in by_cause.items() if n), ""]
    lines += [_line(lang, r) + f" ({texts.t(lang, 'cause.' + r['cause'])})" for r in raised[:100]
              if r["cause"] in by_cause]
    return subject, "\n".join(lines), _csv(raised)


PC_COLUMNS = ("province", "commune", "device", "host", "score", "reasons", "not_assessed")


def _pc_weekly(conn: sqlite3.Connection, lang: str, since: float, agent: str) -> tuple[str, str, str]:
    """Office PCs by replacement priority: the latest pc-health verdict of each, worst first."""
    from netmon.store import decode_samples

    rows = []
    for dev, samples in conn.execute(
            "SELECT r.device_id, r.samples FROM results r JOIN (SELECT device_id, max(seq) AS seq FROM results"
            " WHERE check_name = 'pc-health' AND ts >= ? GROUP BY device_id) last ON last.seq = r.seq",
            (since,)).fetchall():
        fields = next((dict(x.fields) for x in decode_samples(samples) if x.measurement == "pc_health"), {})
        info = conn.execute("SELECT province, commune, name, host FROM devices WHERE id = ?", (dev,)).fetchone()
        prov, com, name, host = info or ("", "", dev, "")
        rows.append({"province": prov, "commune": com, "device": name, "host": host or "",
                     "score": fields.get("score", 0), "reasons": fields.get("reasons", ""),
                     "not_assessed": fields.get("not_assessed", "")})
    rows.sort(key=lambda r: (-float(r["score"] or 0), r["commune"], r["device"]))
    needing = [r for r in rows if r["reasons"]]
    subject = texts.t(lang, "digest.pcs.subject", agent=agent, count=len(needing))
    lines = [texts.t(lang, "digest.pcs.head", count=len(needing), total=len(rows)), ""]
    lines += [f"- {r['commune']} / {r['device']} ({r['score']}): {r['reasons']}" for r in needing[:100]]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, PC_COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return subject, "\n".join(lines), buf.getvalue()


def queue_digests(conn: sqlite3.Connection, settings: NotifySettings, tz: str, agent: str, now: float) -> int:
    """Queue every digest occurrence due and not yet queued; returns how many messages were added."""
    first = float(get_meta(conn, "digests_since") or now)
    set_meta(conn, "digests_since", repr(first))
    added = 0
    for spec in settings.digests:
        when = last_occurrence(spec, tz, now)
        if when.timestamp() < first:
            continue
        date = when.strftime("%Y-%m-%d")
        for channel in spec.channels:
            lang = settings.channels[channel].language or settings.language
            if spec.kind == "operator-daily":
                items = _operator_daily(conn, spec, lang, tz)
                name = "flags-{op}-{date}.csv"
            elif spec.kind == "pc-weekly":
                items = [("pcs", *_pc_weekly(conn, lang, when.timestamp() - 7 * 86400, agent))]
                name = "pcs-{date}.csv"
            else:
                items = [("province", *_province_weekly(conn, lang, tz, when.timestamp() - 7 * 86400, agent))]
                name = "flags-week-{date}.csv"
            for part, subject, body, table in items:
                attach = json.dumps({name.format(op=part, date=date): table}, ensure_ascii=False)
                cur = conn.execute(
                    "INSERT OR IGNORE INTO notify_outbox (key, channel, commune, created_ts, event_ts, severity,"
                    " subject, body, payload, status, next_try_ts, attach)"
                    " VALUES (?,?,?,?,?, 'info', ?,?,?, 'pending', ?, ?)",
                    (f"digest:{spec.kind}:{part}:{date}:{channel}", channel, "#digest", now, when.timestamp(), subject,
                     body, json.dumps({"operator": part if spec.kind == "operator-daily" else ""}, ensure_ascii=False),
                     now, attach))
                added += cur.rowcount
    return added
