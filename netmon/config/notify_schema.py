"""The `notify:` section of netmon.yaml: channels, routes, grouping and maintenance windows (issue 18).

Kept apart from schema.py so the notification settings read as one unit; the root model has one
field, `notify: NotifySettings | None`. Apprise URLs carry credentials, so a channel's `url` is a
secret (write `${NAME}` parts or `url_file:`) and never prints.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from netmon.config.values import parse_duration, to_secret
from netmon.i18n import _
from netmon.model import Secret

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
SEVERITIES = ("info", "warning", "critical")


def _duration(value: Any) -> float:
    return parse_duration(value)


def _secret(value: Any) -> Secret:
    return to_secret(value)


def _zone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(_("{value} is not a known timezone; write e.g. Asia/Ho_Chi_Minh").format(
            value=repr(value))) from None
    return value


Duration = Annotated[float, BeforeValidator(_duration)]
SecretValue = Annotated[Secret, BeforeValidator(_secret)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class WebhookSpec(_Strict):
    """A JSON POST built from a template, for services Apprise lacks (e.g. a Zalo OA relay)."""

    url: SecretValue
    headers: dict[str, SecretValue] = {}
    template: dict[str, Any] | list[Any] | str = {"title": "{subject}", "text": "{body}", "id": "{key}"}
    """Every string inside is formatted with subject, body, key, severity, province, commune, village,
    operator, event_ts, sent_ts, late (0/1)."""
    timeout: Duration = 10.0


class ChannelSpec(_Strict):
    """One named destination: an Apprise URL (`url:` / `url_file:`) or a templated `webhook:`."""

    url: SecretValue | None = None
    url_file: str | None = None
    webhook: WebhookSpec | None = None
    language: Literal["vi", "en"] | None = None
    """Overrides notify.language for this channel."""

    @model_validator(mode="after")
    def _one_kind(self) -> ChannelSpec:
        given = [k for k in ("url", "url_file", "webhook") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(_("give exactly one of url: (an Apprise URL, e.g. mailto://..., tgram://..., "
                               "json://...), url_file: or webhook:"))
        return self


def _list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_list)]


class RouteSpec(_Strict):
    """Events matching every given key go to `channels`; an empty route matches everything."""

    channels: Names = Field(min_length=1)
    province: Names = []
    commune: Names = []
    village: Names = []
    operator: Names = []
    severity: Names = []
    """info | warning | critical; a recovery carries its problem's severity, so it goes where the problem went."""
    kind: Names = []
    """Event kinds: flag, device, service, agent."""

    @field_validator("severity")
    @classmethod
    def _known_severity(cls, values: list[str]) -> list[str]:
        bad = [v for v in values if v not in SEVERITIES]
        if bad:
            raise ValueError(_("unknown severity {value}; use {allowed}").format(value=repr(bad[0]),
                                                                                 allowed=", ".join(SEVERITIES)))
        return values


class ScopeSpec(_Strict):
    """What a maintenance window covers: names or ids; an empty scope is the whole agent."""

    province: str | None = None
    commune: str | None = None
    village: str | None = None
    device: str | None = None


def _local_start(value: str) -> str:
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(_("{value} is not a date and time; write e.g. 2026-12-05 22:00").format(
            value=repr(value))) from None
    if parsed.tzinfo is not None:
        raise ValueError(_("write the local time without an offset; the timezone: key says which zone"))
    return value.strip()


LocalStart = Annotated[str, BeforeValidator(_local_start)]


class FrameSpec(_Strict):
    """One more time frame of a window (e.g. the afternoon part of a cut announced as two)."""

    start: LocalStart
    duration: Duration


class MaintenanceSpec(_Strict):
    """A planned window: `start` + `duration` in an explicit timezone, optionally recurring (RFC 5545 RRULE)."""

    name: str | None = None
    scope: ScopeSpec = ScopeSpec()
    timezone: Annotated[str, BeforeValidator(_zone)]
    start: LocalStart | None = None
    """Local wall-clock time in `timezone`: `2026-12-05 22:00`; with `cron:`, optional (from when it applies)."""
    duration: Duration
    frames: list[FrameSpec] = []
    """More frames of the same window, each repeating by the same rrule."""
    rrule: str | None = None
    """e.g. `FREQ=WEEKLY;BYDAY=SA` or `FREQ=DAILY;UNTIL=20270101T000000`; wall-clock times stay fixed across DST."""
    cron: str | None = None
    """Instead of rrule: `30 22 * * 6` (minute hour day month weekday) starts a window each match."""
    reason: str = ""

    @field_validator("cron")
    @classmethod
    def _cron_parses(cls, value: str | None) -> str | None:
        from netmon.config.cron import cron_to_rrule

        if value is not None:
            cron_to_rrule(value)
        return value

    @model_validator(mode="after")
    def _one_recurrence(self) -> MaintenanceSpec:
        if self.cron is not None and (self.rrule is not None or self.frames):
            raise ValueError(_("cron: stands alone; give rrule: (with frames:) or cron:, and one window per frame"))
        if self.cron is None and self.start is None:
            raise ValueError(_("start: is required (local time, e.g. 2026-12-05 22:00) unless cron: is given"))
        return self

    @field_validator("rrule")
    @classmethod
    def _rrule_parses(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from dateutil.rrule import rrulestr

        try:
            rrulestr(value, dtstart=datetime(2026, 1, 1))
        except (ValueError, TypeError) as exc:
            raise ValueError(_("{value} is not an RFC 5545 RRULE ({problem}); write e.g. FREQ=WEEKLY;BYDAY=SA").format(
                value=repr(value), problem=exc)) from None
        return value


class DigestSpec(_Strict):
    """A scheduled summary in the agent's timezone: per operator daily, or for the province weekly."""

    kind: Literal["operator-daily", "province-weekly", "pc-weekly"]
    at: str = "07:30"
    """Local time of day (agent timezone)."""
    weekday: Literal["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"] = "Mon"
    """For the weekly kinds."""
    channels: Names = Field(min_length=1)
    operator: Names = []
    """operator-daily: only these operators (default: every operator with an open link flag)."""

    @field_validator("at")
    @classmethod
    def _time_of_day(cls, value: str) -> str:
        if not re.match(r"^([01]\d|2[0-3]):[0-5]\d$", value.strip()):
            raise ValueError(_("{value} is not a time of day; write e.g. 07:30").format(value=repr(value)))
        return value.strip()


class FloodGuard(_Strict):
    max_messages: int = Field(default=20, ge=1)
    per: Duration = 600.0


class NotifySettings(_Strict):
    """Notifications: where messages go, how they are grouped, and when they are held back."""

    language: Literal["vi", "en"] = "vi"
    channels: dict[str, ChannelSpec] = {}
    routes: list[RouteSpec] = []
    """Empty: every channel gets every event."""
    group_wait: Duration = 30.0
    """How long the first event of a commune waits for its siblings before a message goes out."""
    group_interval: Duration = 300.0
    """At most one message per commune and channel per this interval; later events are batched."""
    repeat_interval: Duration = 4 * 3600.0
    """Reminder for a problem still open after this long (0 is not allowed; use a large value)."""
    down_after: Duration = 180.0
    """A device outage becomes a message once it has lasted this long (shorter blips stay in reports)."""
    service_down_after: int = Field(default=3, ge=1)
    """Consecutive failed rounds before a service is reported down."""
    device_kinds: list[str] = ["router", "cpe", "bts"]
    """Kinds whose outages are messages (PCs switch off at night; services have their own events)."""
    no_results_after: Duration = 600.0
    """The daemon runs but has stored no result for this long: agent trouble."""
    output_stalled_after: Duration = 1800.0
    """An output's cursor has not moved for this long while results wait: agent trouble."""
    disk_free_below_pct: float = Field(default=5.0, ge=0, le=100)
    late_after: Duration = 300.0
    """A message delivered this long after it was queued (receiver or uplink down) says so:
    `event at 14:02, sent 16:40`."""
    max_backoff: Duration = 600.0
    flood: FloodGuard = FloodGuard()
    maintenance: list[MaintenanceSpec] = []
    digests: list[DigestSpec] = []

    @field_validator("channels")
    @classmethod
    def _channel_names(cls, channels: dict[str, ChannelSpec]) -> dict[str, ChannelSpec]:
        for name in channels:
            if not _CHANNEL_NAME.match(name):
                raise ValueError(_("channel name {name}: use letters, digits, '-', '_' or '.'").format(name=repr(name)))
        return channels

    @model_validator(mode="after")
    def _routes_name_channels(self) -> NotifySettings:
        named = [(f"routes[{i}]", r.channels) for i, r in enumerate(self.routes)]
        named += [(f"digests[{i}]", d.channels) for i, d in enumerate(self.digests)]
        for where, channels in named:
            for name in channels:
                if name not in self.channels:
                    known = ", ".join(sorted(self.channels)) or "none defined"
                    raise ValueError(_("{where} names channel {name}, which is not under channels: ({known})").format(
                        where=where, name=repr(name), known=known))
        return self
