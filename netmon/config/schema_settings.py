"""The agent-level sections of netmon's YAML: agent, scheduler, store, outputs, auths, analysis.

Part of the config schema (netmon/config/schema.py holds the root, the inventory and the profiles,
and re-exports every model here, so `from netmon.config.schema import X` keeps working).
"""

# RUF012: ruff cannot see that `Strict` (from checks.py) is a pydantic model, whose list defaults are copied.
# ruff: noqa: RUF012

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, Field, field_validator, model_validator

from netmon.config.checks import Duration, Name, SecretValue, Strict
from netmon.config.officehours import OfficeHours, _minutes, check_spans, parse_days
from netmon.config.values import check_v3_key, check_web_url, parse_duration
from netmon.i18n import _

# ---------------------------------------------------------------- agent-level settings


class Shard(Strict):
    """The agents that share one inventory: `agents: [names]` (explicit `agent:` placement by name), or
    the older `index/count` (agents are 0 .. count-1). Communes are placed by `netmon.config.shard`."""

    agents: list[Name] | None = Field(default=None, min_length=1, max_length=100_000)
    index: int | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=1, le=1_000_000)

    @model_validator(mode="after")
    def _one_form(self) -> Shard:
        if self.agents is not None:
            if self.index is not None or self.count is not None:
                raise ValueError(_("give either agents: [names] or index:/count:, not both"))
            dupes = sorted({a for a in self.agents if self.agents.count(a) > 1})
            if dupes:
                raise ValueError(_("agent names must be unique; {names} appears twice").format(names=", ".join(dupes)))
            return self
        if self.index is None or self.count is None:
            raise ValueError(_("needs agents: [every agent of the province] (or index: and count:)"))
        if self.index >= self.count:
            raise ValueError(_("index {index} must be below count {count}").format(index=self.index, count=self.count))
        return self


class OfficeSpan(Strict):
    """One span of office hours: `{days: Mon-Fri, from: "07:30", to: "11:30"}`."""

    days: str | list[str]
    start: str = Field(alias="from")
    end: str = Field(alias="to")

    @model_validator(mode="after")
    def _parses(self) -> OfficeSpan:
        parse_days(self.days)
        check_spans([(set(), _minutes(self.start), _minutes(self.end))])
        return self


class AgentSettings(Strict):
    name: Name = "netmon"
    timezone: str = "Asia/Ho_Chi_Minh"
    state_dir: str = "/var/lib/netmon"
    """Relative paths are taken relative to the config file's folder."""
    office_hours: str | list[OfficeSpan] = "Mon-Fri 07:30-11:30,13:30-17:00"
    """The old one-line form, or a list of {days, from, to} (netmon/config/officehours.py)."""
    public_holidays: list[date] = []
    """Dates (YYYY-MM-DD) that are not office days whatever the weekday, e.g. Tết."""
    shard: Shard | None = None
    heartbeat: Annotated[Duration, Field(ge=1.0, le=3600.0)] = 60.0
    """How often the agent's own `netmon_agent` point is written and forwarded; the central view
    (`--from influxdb`) calls an agent silent after two of these."""
    language: Literal["vi", "en"] | None = None
    """Language of messages and reports; `netmon --lang` and NETMON_LANG override it, None: the locale."""

    @model_validator(mode="after")
    def _listed(self) -> AgentSettings:
        if self.shard is not None and self.shard.agents is not None and self.name not in self.shard.agents:
            raise ValueError(_("name '{name}' is not in shard.agents ({agents}); add it there, or set name: to one "
                               "of them").format(name=self.name, agents=", ".join(self.shard.agents)))
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(_("{value} is not a known timezone; write e.g. Asia/Ho_Chi_Minh").format(
                value=repr(value))) from None
        return value

    @field_validator("office_hours")
    @classmethod
    def _office_hours_parse(cls, value: str | list[OfficeSpan]) -> str | list[OfficeSpan]:
        try:
            OfficeHours(value, "UTC")  # only the spans here; the timezone is checked on its own
        except ValueError as exc:
            example = "'Mon-Fri 07:30-11:30,13:30-17:00'" if isinstance(value, str) else \
                "- {days: Mon-Fri, from: '07:30', to: '11:30'}"
            raise ValueError(_("{problem} (e.g. {example})").format(problem=exc, example=example)) from None
        return value


class SchedulerSettings(Strict):
    max_pps: float = Field(default=2000.0, gt=0)
    """Ceiling on ICMP packets per second for the whole agent, so probing never congests a thin link."""
    concurrency: int = Field(default=1024, ge=1, le=1_000_000)
    """Probes in flight at once, per prober (ICMP targets in flight, TCP/HTTP connections)."""
    snmp_concurrency: int = Field(default=32, ge=1, le=100_000)
    slice: Duration = 1.0
    """Width of a phase slice: targets whose phase falls in the same slice run as one batch."""


DAY_S = 86400.0


class RetentionSettings(Strict):
    """How long each kind of row is kept (docs/storage.md has the size each costs)."""

    results: Duration = 8 * DAY_S
    """Raw results (snmp, tcp, http), deleted once this old AND every output has acknowledged them:
    PC aging and the services report read a week of them."""
    results_icmp: Duration = DAY_S
    """Raw ICMP results, the bulk of the store, same rule: rollups keep what analysis needs of them."""
    rollups_fine: Duration = 14 * DAY_S
    """Rollups at `analysis.rollup_bucket` width; older ones are merged into hourly rows."""
    device_hourly: Duration = 35 * DAY_S
    """Device rollups stay hourly this long, then become daily (UTC days); village rollups stay hourly."""
    rollups: Duration = 400 * DAY_S
    """Every rollup row (device and village) is deleted past this age."""
    outages: Duration = 400 * DAY_S
    """Closed outages, by their end."""
    flags: Duration = 400 * DAY_S
    """Cleared flags, by when they cleared; open flags are never deleted."""
    dead_letters: Duration = 90 * DAY_S
    agent_runs: Duration = 400 * DAY_S

    @model_validator(mode="after")
    def _tiers_in_order(self) -> RetentionSettings:
        if not self.rollups_fine <= self.device_hourly <= self.rollups:
            raise ValueError(_("rollups_fine <= device_hourly <= rollups must hold (a row is merged before it is "
                               "deleted)"))
        return self


def _retention_shorthand(value: Any) -> Any:
    """`retention: 30d` (the form before per-table retention) sets the raw results' retention."""
    if isinstance(value, dict | BaseModel):
        return value
    seconds = parse_duration(value)
    return {"results": seconds, "results_icmp": seconds}


class StoreSettings(Strict):
    retention: Annotated[RetentionSettings, BeforeValidator(_retention_shorthand)] = RetentionSettings()
    max_disk_mb: int | None = Field(default=None, ge=16, le=1_000_000_000)
    """Hard cap on the store's file plus its WAL; past it, the least valuable, oldest rows go first
    and unsent results only when nothing else is left (counted and logged)."""


class InfluxOutput(Strict):
    name: Name = "influxdb"
    url: Annotated[str, BeforeValidator(check_web_url)]
    api: Literal["v1", "v2"] = "v2"
    org: str | None = None
    bucket: str | None = None
    token: SecretValue | None = None
    database: str | None = None
    retention_policy: str | None = None
    username: str | None = None
    password: SecretValue | None = None
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    max_in_flight: int = Field(default=2, ge=1, le=4)
    """Batches on the wire at once: with 2, InfluxDB parses one while the next is on its way; the cursor
    still moves strictly in order (sinks/influx.py). 1 sends one batch at a time."""
    timeout: Duration = 10.0
    max_backoff: Duration = 300.0
    gzip: bool = False

    @model_validator(mode="after")
    def _api_keys(self) -> InfluxOutput:
        if self.api == "v2" and not self.bucket:
            raise ValueError(_("api v2 needs bucket: (and org:, token: for InfluxDB 2.x/Cloud)"))
        if self.api == "v1" and not self.database:
            raise ValueError(_("api v1 needs database: (and username:/password: if auth is on)"))
        return self


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Outputs(Strict):
    influxdb: Annotated[list[InfluxOutput], BeforeValidator(_one_or_many)] = []


class KeySpec(Strict):
    """One SNMPv3 key: the protocol is required, because pysnmp silently means MD5/DES without it."""

    protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512", "des", "aes", "aes128", "aes192",
                      "aes256", "aes192-blumenthal", "aes256-blumenthal"]
    """`aes192`/`aes256` extend the key the Reeder ("Cisco") way, what net-snmp calls AES-192-C/AES-256-C;
    net-snmp's own AES-192/AES-256 extend it the Blumenthal way: `aes192-blumenthal`/`aes256-blumenthal`.
    The two do not interoperate, and a mismatch looks like a timeout (the agent drops what it cannot decrypt)."""
    key: SecretValue | None = None
    key_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KeySpec:
        if (self.key is None) == (self.key_file is None):
            raise ValueError(_("give exactly one of key: or key_file:"))
        if self.key is not None:
            check_v3_key(self.key.reveal())
        return self


_AUTH_PROTOCOLS = frozenset({"md5", "sha", "sha224", "sha256", "sha384", "sha512"})


class SnmpAuth(Strict):
    version: Literal["1", "2c", "3"]
    community: SecretValue | None = None
    user: str | None = None
    auth: KeySpec | None = None
    priv: KeySpec | None = None
    context: str = ""

    @model_validator(mode="after")
    def _version_keys(self) -> SnmpAuth:
        if self.version in ("1", "2c") and self.community is None:
            raise ValueError(_("SNMP v{version} needs community:").format(version=self.version))
        if self.version == "3" and not self.user:
            raise ValueError(_("SNMP v3 needs user:"))
        if self.priv is not None and self.auth is None:
            raise ValueError(_("priv: needs auth: too (SNMPv3 has no privacy without authentication)"))
        if self.auth is not None and self.auth.protocol not in _AUTH_PROTOCOLS:
            raise ValueError(_("auth.protocol {protocol} is a privacy protocol; use one of {allowed}").format(
                protocol=repr(self.auth.protocol), allowed=", ".join(sorted(_AUTH_PROTOCOLS))))
        if self.priv is not None and self.priv.protocol in _AUTH_PROTOCOLS:
            raise ValueError(_("priv.protocol {protocol} is an authentication protocol; use one of des, aes, aes192, "
                               "aes256, aes192-blumenthal, aes256-blumenthal").format(
                                   protocol=repr(self.priv.protocol)))
        return self


# ---------------------------------------------------------------- analysis


class StabilityThresholds(Strict):
    """DESIGN.md §7 defaults; degraded/unstable when any limit is crossed."""

    degraded_availability_pct: float = 99.5
    degraded_loss_pct: float = 1.0
    degraded_rtt_p95_ms: float = 150.0
    unstable_availability_pct: float = 99.0
    unstable_loss_pct: float = 5.0
    unstable_outages: int = Field(default=3, ge=0, le=1_000_000)
    unstable_rtt_p95_ms: float = 300.0


class AnalysisSettings(Strict):
    evaluate_every: Duration = 300.0
    window_now: Duration = 3600.0
    window_trend: Duration = 86400.0
    raise_after: int = Field(default=3, ge=1, le=10_000)
    clear_after: int = Field(default=3, ge=1, le=10_000)
    confidence: float = Field(default=0.95, ge=0.5, lt=1.0)
    """A rate (loss, availability) crosses a threshold only when its interval at this confidence does."""
    pending_max: Duration = 7200.0
    """A village down this long with its cause still pending goes to the operator as 'cause unknown'."""
    thresholds: StabilityThresholds = StabilityThresholds()
    rollup_bucket: Duration | None = None
    """Width of one rollup bucket; default 1 h, or window_now/10 when window_now is under an hour (lab)."""
    coverage_kinds: list[str] | None = None
    """Device kinds that carry a village's coverage; default: kinds whose profile says coverage: true."""
    settle: Duration | None = None
    """How long rollups wait for late parent results before judging a round; default: 2 ICMP intervals."""

    @property
    def bucket_s(self) -> float:
        """The rollup bucket width in effect."""
        if self.rollup_bucket is not None:
            return self.rollup_bucket
        return 3600.0 if self.window_now >= 3600.0 else max(1.0, self.window_now / 10)
