"""Every text a notification can contain, in Vietnamese (default) and English, in one place.

Messages are built from plain `str.format` templates so a later move to gettext only has to
replace the two dictionaries below. Each message says what, where (province / commune / village,
operator), since when, the evidence and what to do next.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

Lang = str

T: dict[str, dict[str, str]] = {
    "vi": {
        "flag.raise": "Thôn {village} mất ổn định ({cause})",
        "flag.cause": "Thôn {village}: nguyên nhân xác định là {cause}",
        "flag.clear": "Thôn {village} đã ổn định trở lại",
        "flag.repeat": "Nhắc lại: thôn {village} vẫn mất ổn định ({cause})",
        "device.down": "{device} mất kết nối",
        "device.up": "{device} đã kết nối lại",
        "device.repeat": "Nhắc lại: {device} vẫn mất kết nối",
        "service.down": "Dịch vụ {device} không truy cập được từ xã {commune}",
        "service.up": "Dịch vụ {device} truy cập được trở lại từ xã {commune}",
        "agent.stalled": "Máy đo {device} không ghi được kết quả nào",
        "agent.stalled.up": "Máy đo {device} đo lại bình thường",
        "agent.output": "Đầu ra {output} của máy đo {device} ngừng gửi dữ liệu",
        "agent.output.up": "Đầu ra {output} của máy đo {device} gửi lại bình thường",
        "agent.disk": "Ổ đĩa máy đo {device} sắp đầy (còn {free_pct}%)",
        "agent.disk.up": "Ổ đĩa máy đo {device} đã đủ chỗ",
        "digest.operator.subject": "Danh sách thôn cần {operator} xử lý: {count} thôn",
        "digest.operator.head": "Các thôn đang bị gắn cờ do đường truyền {operator} ({count}); chi tiết trong tệp CSV.",
        "digest.pcs.subject": "Danh sách máy tính cần thay ({agent}): {count} máy",
        "digest.pcs.head": "{count}/{total} máy tính văn phòng có vấn đề, xếp theo mức ưu tiên thay (CSV đính kèm).",
        "digest.weekly.subject": "Tổng hợp tuần ({agent}): {count} cờ mới",
        "digest.weekly.head": "Trong tuần: {count} cờ mới, {still} cờ còn mở, {muted} sự kiện trong giờ bảo trì.",
        "next.agent": "xem `journalctl -u netmon` và `netmon check` trên máy đo",
        "cause.link": "đường truyền nhà mạng", "cause.power": "mất điện", "cause.upstream": "thiết bị cấp trên",
        "cause.pending": "đang xác định", "cause.none": "chưa rõ",
        "where": "Địa điểm: {where}", "operator": "Nhà mạng: {operator}", "since": "Từ lúc: {since}",
        "lasted": "Kéo dài: {lasted}", "evidence": "Bằng chứng: {evidence}", "next": "Việc cần làm: {next}",
        "behind": "Phía sau cũng mất kết nối: {names}",
        "next.flag.link": "gửi phản ánh cho {operator} kèm bằng chứng (netmon report villages)",
        "next.flag.power": "mất điện, không phải lỗi nhà mạng: kiểm tra nguồn điện/UPS tại thôn",
        "next.flag.upstream": "kiểm tra router xã / thiết bị cấp trên trước",
        "next.flag.pending": "chưa gửi nhà mạng; chờ xác định nguyên nhân",
        "next.device.router": "kiểm tra nguồn điện và đường truyền tại trụ sở xã",
        "next.device.other": "kiểm tra nguồn điện và thiết bị tại chỗ; nếu có điện, báo {operator}",
        "next.service": "kiểm tra dịch vụ; nếu chỉ một xã không vào được, kiểm tra đường truyền xã",
        "next.ok": "không cần làm gì thêm",
        "group.subject": "{commune}: {count} sự kiện",
        "flood.subject": "Quá nhiều cảnh báo: {count} sự kiện ở {communes} xã",
        "flood.body": "Đã gộp {count} sự kiện ({communes} xã) để tránh gửi dồn dập. Xem `netmon status`.",
        "late": "Sự kiện lúc {event}, gửi lúc {sent} (gửi muộn do mất kết nối)",
        "resend": "Có thể là tin gửi lại (mã {key})",
        "test.subject": "netmon: tin thử kênh {channel}",
        "test.body": "Tin thử từ netmon ({agent}). Nếu bạn nhận được tin này, kênh {channel} hoạt động.",
        "min": "{n} phút", "hour": "{n} giờ",
        "ev.availability_pct": "khả dụng {v}%", "ev.loss_pct": "mất gói {v}%", "ev.rtt_p95_ms": "p95 {v} ms",
        "ev.outages": "{v} lần mất kết nối", "ev.window": "trong {v}", "ev.worst_hours": "giờ tệ nhất {v}",
    },
    "en": {
        "flag.raise": "Village {village} unstable ({cause})",
        "flag.cause": "Village {village}: cause settled as {cause}",
        "flag.clear": "Village {village} is stable again",
        "flag.repeat": "Reminder: village {village} still unstable ({cause})",
        "device.down": "{device} is down",
        "device.up": "{device} is back up",
        "device.repeat": "Reminder: {device} still down",
        "service.down": "Service {device} unreachable from {commune}",
        "service.up": "Service {device} reachable again from {commune}",
        "agent.stalled": "Agent {device} stores no results",
        "agent.stalled.up": "Agent {device} measures again",
        "agent.output": "Output {output} of agent {device} stopped sending",
        "agent.output.up": "Output {output} of agent {device} sends again",
        "agent.disk": "Disk of agent {device} nearly full ({free_pct}% free)",
        "agent.disk.up": "Disk of agent {device} has room again",
        "digest.operator.subject": "Villages for {operator} to follow up: {count}",
        "digest.operator.head": "Villages flagged for {operator}'s link ({count}); details in the attached CSV.",
        "digest.pcs.subject": "Office PCs to replace ({agent}): {count}",
        "digest.pcs.head": "{count} of {total} office PCs have problems, by replacement priority (CSV attached).",
        "digest.weekly.subject": "Weekly summary ({agent}): {count} new flags",
        "digest.weekly.head": "This week: {count} new flags, {still} still open, {muted} events during maintenance.",
        "next.agent": "see `journalctl -u netmon` and `netmon check` on the agent",
        "cause.link": "operator link", "cause.power": "power cut", "cause.upstream": "upstream device",
        "cause.pending": "being determined", "cause.none": "unknown",
        "where": "Where: {where}", "operator": "Operator: {operator}", "since": "Since: {since}",
        "lasted": "Lasted: {lasted}", "evidence": "Evidence: {evidence}", "next": "Next step: {next}",
        "behind": "Also unreachable behind it: {names}",
        "next.flag.link": "report to {operator} with the evidence (netmon report villages)",
        "next.flag.power": "a power cut, not the operator: check power/UPS in the village",
        "next.flag.upstream": "check the commune router / upstream device first",
        "next.flag.pending": "do not report to the operator yet; the cause is being determined",
        "next.device.router": "check power and the uplink at the commune office",
        "next.device.other": "check power and the device on site; if powered, report to {operator}",
        "next.service": "check the service; if only one commune fails, check that commune's link",
        "next.ok": "no action needed",
        "group.subject": "{commune}: {count} events",
        "flood.subject": "Too many alerts: {count} events in {communes} communes",
        "flood.body": "{count} events in {communes} communes were summarised to avoid a flood. See `netmon status`.",
        "late": "Event at {event}, sent {sent} (late: the uplink was down)",
        "resend": "Possibly a repeat of an earlier delivery (key {key})",
        "test.subject": "netmon: test message for channel {channel}",
        "test.body": "Test message from netmon ({agent}). If you read this, channel {channel} works.",
        "min": "{n} min", "hour": "{n} h",
        "ev.availability_pct": "availability {v}%", "ev.loss_pct": "loss {v}%", "ev.rtt_p95_ms": "p95 {v} ms",
        "ev.outages": "{v} outage(s)", "ev.window": "over {v}", "ev.worst_hours": "worst hours {v}",
    },
}
LANGUAGES = tuple(T)


def t(lang: Lang, text_id: str, /, **values: Any) -> str:
    """One text in `lang` (falls back to Vietnamese), formatted with `values`."""
    table = T.get(lang, T["vi"])
    return table.get(text_id, T["vi"][text_id]).format(**values)


def local_time(ts: float, tz: str, with_date: bool = True) -> str:
    """`2026-12-02 14:02` in the agent's timezone (or `14:02`)."""
    dt = datetime.fromtimestamp(ts, ZoneInfo(tz))
    return dt.strftime("%Y-%m-%d %H:%M" if with_date else "%H:%M")


def human_duration(lang: Lang, seconds: float) -> str:
    """`12 phút`, `3.5 giờ`."""
    minutes = max(0, round(seconds / 60))
    if minutes < 120:
        return t(lang, "min", n=minutes)
    return t(lang, "hour", n=f"{seconds / 3600:.1f}")


def evidence_line(lang: Lang, evidence: Any) -> str:
    """A flag's evidence dict as words (`availability 96.5%, loss 9.2%, 4 outage(s) over 24h`); text stays text."""
    if not isinstance(evidence, Mapping):
        return str(evidence)
    numbers = evidence.get("trend") if isinstance(evidence.get("trend"), Mapping) else evidence
    parts = []
    for key in ("availability_pct", "loss_pct", "rtt_p95_ms", "outages", "window"):
        value = numbers.get(key, evidence.get(key))
        if value is not None:
            parts.append(t(lang, f"ev.{key}", v=value))
    hours = evidence.get("worst_hours")
    if hours:
        parts.append(t(lang, "ev.worst_hours", v=", ".join(str(h) for h in list(hours)[:3])))
    return ", ".join(parts)


def where(ev: Mapping[str, Any]) -> str:
    """`Lai Châu / Sìn Hồ / Tả Phìn`."""
    return " / ".join(p for p in (ev["province"], ev["commune"], ev["village"]) if p)


def _next_step(lang: Lang, ev: Mapping[str, Any], p: Mapping[str, Any]) -> str:
    operator = ev["operator"] or "?"
    if ev["action"] in ("clear", "up") or ev["action"].endswith(".up"):
        return t(lang, "next.ok")
    if ev["kind"] == "flag":
        return t(lang, f"next.flag.{p.get('cause', 'pending')}", operator=operator) \
            if p.get("cause") in ("link", "power", "upstream", "pending") else t(lang, "next.flag.pending")
    if ev["kind"] == "service":
        return t(lang, "next.service")
    if ev["kind"] == "agent":
        return t(lang, "next.agent")
    key = "next.device.router" if p.get("device_kind") == "router" and not ev["village"] else "next.device.other"
    return t(lang, key, operator=operator)


def headline(lang: Lang, ev: Mapping[str, Any]) -> str:
    """What happened, in one line."""
    p = ev["payload"]
    cause = t(lang, f"cause.{p.get('cause') or 'none'}") if p.get("cause") in (
        "link", "power", "upstream", "pending", "none") else p.get("cause", "")
    extra = {k: v for k, v in p.items() if isinstance(v, str | int | float) and k not in ("cause", "device")}
    return t(lang, f"{ev['kind']}.{ev['action']}", **{**extra, "village": ev["village"], "commune": ev["commune"],
                                                      "device": p.get("device_name") or ev["device"], "cause": cause})


def event_lines(lang: Lang, ev: Mapping[str, Any], tz: str) -> list[str]:
    """The full block for one event: headline, where, operator, since, evidence, next step."""
    p = ev["payload"]
    lines = [headline(lang, ev), t(lang, "where", where=where(ev))]
    if ev["operator"]:
        lines.append(t(lang, "operator", operator=ev["operator"]))
    since = p.get("since_ts", ev["event_ts"])
    lines.append(t(lang, "since", since=local_time(since, tz)))
    if ev["action"] in ("clear", "up") and p.get("since_ts"):
        lines.append(t(lang, "lasted", lasted=human_duration(lang, ev["event_ts"] - p["since_ts"])))
    if p.get("evidence"):
        lines.append(t(lang, "evidence", evidence=evidence_line(lang, p["evidence"])))
    if p.get("behind"):
        names: Sequence[str] = p["behind"]
        shown = ", ".join(names[:8]) + (f" (+{len(names) - 8})" if len(names) > 8 else "")
        lines.append(t(lang, "behind", names=shown))
    lines.append(t(lang, "next", next=_next_step(lang, ev, p)))
    return lines


def message(lang: Lang, events: Sequence[Mapping[str, Any]], tz: str) -> tuple[str, str]:
    """Subject and body of one message holding one or more events of one commune."""
    if len(events) == 1:
        subject = headline(lang, events[0])
    else:
        subject = t(lang, "group.subject", commune=events[0]["commune"] or events[0]["province"], count=len(events))
    body = "\n\n".join("\n".join(event_lines(lang, ev, tz)) for ev in events)
    return subject, body
