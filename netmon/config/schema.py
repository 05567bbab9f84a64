"""The shape of netmon's YAML: agent config, inventory and profiles, as frozen pydantic models.

These models are the single definition of every key netmon accepts. The loader (`load.py`)
feeds them YAML that remembers line numbers and turns pydantic's errors into
`file:line: path: message` lines. Every model forbids unknown keys, so a typo is an error with a
did-you-mean, never a silently ignored setting.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from netmon.model import Secret

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_OID = re.compile(r"^\.?\d+(\.\d+)+$")


def parse_duration(value: Any) -> float:
    """Turn `60s`, `5m`, `1.5h`, `250ms` or a bare number of seconds into seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; write e.g. 60s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"{str(value)!r} is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d")
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if seconds <= 0:
        raise ValueError(f"{value!r} must be longer than zero; write e.g. 60s")
    return seconds


def check_host(value: str) -> str:
    """Accept an IPv4/IPv6 address or a DNS host name; reject things like `10.0.300.1`."""
    text = str(value).strip()
    try:
        ipaddress.ip_address(text)
        return text
    except ValueError:
        pass
    looks_numeric = all(part.isdigit() for part in text.split(".") if part)
    if looks_numeric or not _HOSTNAME.match(text):
        raise ValueError(f"{text!r} is not an IP address or host name")
    return text


def check_oid(value: str) -> str:
    """Numeric OIDs only at runtime (no MIB lookups); names live next to them as keys."""
    text = str(value).strip()
    if not _OID.match(text):
        raise ValueError(f"{text!r} is not a numeric OID; write it like 1.3.6.1.2.1.1.3.0")
    return text.lstrip(".")


def _compile_or_explain(pattern: str) -> None:
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"{pattern!r} is not a valid regular expression: {exc}") from None


def check_url_has_no_credentials(url: str) -> str:
    """URLs are shown in logs, the status view and tags: credentials must not ride in them."""
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not contain a user name or password (URLs are shown in logs and sent as tags); "
                         "put credentials elsewhere")
    return url


def to_secret(value: Any) -> Secret:
    """Wrap a credential so that it never prints; the loader marks values taken from `${ENV}`."""
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError("must be a non-empty string; put the value in an environment variable and write ${NAME}")
    return Secret(value, getattr(value, "source", "config file"))


Duration = Annotated[float, BeforeValidator(parse_duration)]
Host = Annotated[str, AfterValidator(check_host)]
Oid = Annotated[str, AfterValidator(check_oid)]
SecretValue = Annotated[Secret, BeforeValidator(to_secret)]
Name = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# ---------------------------------------------------------------- agent-level settings


class Shard(Strict):
    """The agents that share one inventory: `agents: [names]` (explicit `agent:` placement by name), or
    the older `index/count` (agents are 0 .. count-1). Communes are placed by `netmon.config.shard`."""

    agents: list[Name] | None = Field(default=None, min_length=1)
    index: int | None = Field(default=None, ge=0)
    count: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _one_form(self) -> Shard:
        if self.agents is not None:
            if self.index is not None or self.count is not None:
                raise ValueError("give either agents: [names] or index:/count:, not both")
            dupes = sorted({a for a in self.agents if self.agents.count(a) > 1})
            if dupes:
                raise ValueError(f"agent names must be unique; {', '.join(dupes)} appears twice")
            return self
        if self.index is None or self.count is None:
            raise ValueError("needs agents: [every agent of the province] (or index: and count:)")
        if self.index >= self.count:
            raise ValueError(f"index {self.index} must be below count {self.count}")
        return self


class AgentSettings(Strict):
    name: Name = "netmon"
    timezone: str = "Asia/Ho_Chi_Minh"
    state_dir: str = "/var/lib/netmon"
    """Relative paths are taken relative to the config file's folder."""
    office_hours: str = "Mon-Fri 07:30-11:30,13:30-17:00"
    shard: Shard | None = None

    @model_validator(mode="after")
    def _listed(self) -> AgentSettings:
        if self.shard is not None and self.shard.agents is not None and self.name not in self.shard.agents:
            raise ValueError(f"name '{self.name}' is not in shard.agents ({', '.join(self.shard.agents)}); "
                             "add it there, or set name: to one of them")
        return self

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a known timezone; write e.g. Asia/Ho_Chi_Minh") from None
        return value

    @field_validator("office_hours")
    @classmethod
    def _office_hours_parse(cls, value: str) -> str:
        from netmon.analysis.officehours import OfficeHours

        try:
            OfficeHours(value, "UTC")  # only the syntax here; the timezone is checked on its own
        except ValueError as exc:
            raise ValueError(f"{exc} (e.g. 'Mon-Fri 07:30-11:30,13:30-17:00')") from None
        return value


class SchedulerSettings(Strict):
    max_pps: float = Field(default=2000.0, gt=0)
    """Ceiling on ICMP packets per second for the whole agent, so probing never congests a thin link."""
    concurrency: int = Field(default=1024, ge=1)
    """Probes in flight at once, per prober (ICMP targets in flight, TCP/HTTP connections)."""
    snmp_concurrency: int = Field(default=32, ge=1)
    slice: Duration = 1.0
    """Width of a phase slice: targets whose phase falls in the same slice run as one batch."""


class StoreSettings(Strict):
    retention: Duration = 30 * 86400.0
    """Raw results older than this are deleted once every output has acknowledged them."""
    max_disk_mb: int | None = Field(default=None, ge=1)
    """Hard cap: past it, the oldest rows go even if unsent (counted and logged)."""


class InfluxOutput(Strict):
    name: Name = "influxdb"
    url: Annotated[str, Field(pattern=r"^https?://")]
    api: Literal["v1", "v2"] = "v2"
    org: str | None = None
    bucket: str | None = None
    token: SecretValue | None = None
    database: str | None = None
    retention_policy: str | None = None
    username: str | None = None
    password: SecretValue | None = None
    batch_size: int = Field(default=5000, ge=1, le=100_000)
    timeout: Duration = 10.0
    max_backoff: Duration = 300.0
    gzip: bool = False

    @model_validator(mode="after")
    def _api_keys(self) -> InfluxOutput:
        if self.api == "v2" and not self.bucket:
            raise ValueError("api v2 needs bucket: (and org:, token: for InfluxDB 2.x/Cloud)")
        if self.api == "v1" and not self.database:
            raise ValueError("api v1 needs database: (and username:/password: if auth is on)")
        return self


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, dict) else value


class Outputs(Strict):
    influxdb: Annotated[list[InfluxOutput], BeforeValidator(_one_or_many)] = []


class KeySpec(Strict):
    """One SNMPv3 key: the protocol is required, because pysnmp silently means MD5/DES without it."""

    protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512", "des", "aes", "aes128", "aes192",
                      "aes256"]
    key: SecretValue | None = None
    key_file: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> KeySpec:
        if (self.key is None) == (self.key_file is None):
            raise ValueError("give exactly one of key: or key_file:")
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
            raise ValueError(f"SNMP v{self.version} needs community:")
        if self.version == "3" and not self.user:
            raise ValueError("SNMP v3 needs user:")
        if self.priv is not None and self.auth is None:
            raise ValueError("priv: needs auth: too (SNMPv3 has no privacy without authentication)")
        if self.auth is not None and self.auth.protocol not in _AUTH_PROTOCOLS:
            raise ValueError(f"auth.protocol {self.auth.protocol!r} is a privacy protocol; use one of "
                             + ", ".join(sorted(_AUTH_PROTOCOLS)))
        if self.priv is not None and self.priv.protocol in _AUTH_PROTOCOLS:
            raise ValueError(f"priv.protocol {self.priv.protocol!r} is an authentication protocol; use one of "
                             "des, aes, aes192, aes256")
        return self


# ---------------------------------------------------------------- analysis


class StabilityThresholds(Strict):
    """DESIGN.md §7 defaults; degraded/unstable when any limit is crossed."""

    degraded_availability_pct: float = 99.5
    degraded_loss_pct: float = 1.0
    degraded_rtt_p95_ms: float = 150.0
    unstable_availability_pct: float = 99.0
    unstable_loss_pct: float = 5.0
    unstable_outages: int = 3
    unstable_rtt_p95_ms: float = 300.0


class AnalysisSettings(Strict):
    evaluate_every: Duration = 300.0
    window_now: Duration = 3600.0
    window_trend: Duration = 86400.0
    raise_after: int = Field(default=3, ge=1)
    clear_after: int = Field(default=3, ge=1)
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


# ---------------------------------------------------------------- inventory


class Location(Strict):
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)


class DeviceSpec(Strict):
    name: Name
    kind: Name
    profile: str | None = None
    """Profile name; defaults to the kind."""
    host: Host | None = None
    url: Annotated[str, Field(pattern=r"^https?://"), AfterValidator(check_url_has_no_credentials)] | None = None
    port: int | None = Field(default=None, ge=1, le=65535)
    snmp_port: int | None = Field(default=None, ge=1, le=65535)
    auth: str | None = None
    parent: str | None = None
    """Another device, by name (searched in the same village, then commune) or by id."""
    operator: str | None = None
    location: Location | None = None
    enabled: bool = True

    @model_validator(mode="after")
    def _has_target(self) -> DeviceSpec:
        if self.host is None and self.url is None:
            raise ValueError("needs host: (an IP address or host name) or url:")
        return self


class Village(Strict):
    name: Name
    operator: str | None = None
    location: Location | None = None
    thresholds: StabilityThresholds | None = None
    devices: list[DeviceSpec] = []


AgentName = Annotated[str, BeforeValidator(lambda v: str(v) if isinstance(v, int) and not isinstance(v, bool) else v)]


class Commune(Strict):
    name: Name
    agent: AgentName | None = None
    """The agent that probes this commune (one of agent.shard.agents); default: its province's, else hashed."""
    operator: str | None = None
    location: Location | None = None
    devices: list[DeviceSpec] = []
    villages: list[Village] = []


class Province(Strict):
    name: Name
    agent: AgentName | None = None
    """The agent that probes this province's communes, unless a commune names its own."""
    operator: str | None = None
    communes: list[Commune] = []


class AgentConfig(Strict):
    """The root of `netmon.yaml` after includes are expanded."""

    version: Literal[1]
    agent: AgentSettings = AgentSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    store: StoreSettings = StoreSettings()
    outputs: Outputs = Outputs()
    analysis: AnalysisSettings = AnalysisSettings()
    auths: dict[str, SnmpAuth] = {}
    profiles: list[str] = []
    """Extra folders of profiles, searched before the bundled `probes/`."""
    inventory: list[Province] = []


# ---------------------------------------------------------------- profiles (probes/*.yaml)


class _CheckBase(Strict):
    name: Name
    interval: Duration = 60.0
    timeout: Duration = 2.0


class IcmpCheck(_CheckBase):
    prober: Literal["icmp"]
    count: int = Field(default=3, ge=1, le=100)
    packet_interval: Duration = 0.2
    """Gap between the packets to one target (Smokeping/fping pace, never a burst)."""


class SnmpCheck(_CheckBase):
    prober: Literal["snmp"]
    get: dict[str, Oid] = {}
    walk: dict[str, Oid] = {}
    retries: int = Field(default=1, ge=0, le=5)
    max_repetitions: int = Field(default=25, ge=1, le=200)

    @model_validator(mode="after")
    def _has_oids(self) -> SnmpCheck:
        if not self.get and not self.walk:
            raise ValueError("an snmp check needs get: or walk: (name: numeric OID)")
        return self


class TcpCheck(_CheckBase):
    prober: Literal["tcp"]
    port: int | None = Field(default=None, ge=1, le=65535)
    send: str | None = None
    expect: str | None = None


class HttpCheck(_CheckBase):
    prober: Literal["http"]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[int] = [200]
    body_contains: str | None = None
    body_regex: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    ca_bundle: str | None = None

    @field_validator("body_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile_or_explain(value)
        return value


CheckSpec = Annotated[IcmpCheck | SnmpCheck | TcpCheck | HttpCheck, Field(discriminator="prober")]


class AgingRules(Strict):
    """PC replacement thresholds (issue 4); matched against what real agents report."""

    disk_used_pct: float = 90.0
    min_ram_mb: int = 4096
    cpu_load_pct: float = 85.0
    reboots_per_week: int = 3
    office_reachability_pct: float = 95.0
    eol_os: list[str] = []
    """Regular expressions matched against sysDescr, e.g. `Windows 7`, `Windows Version 6\\.1`."""

    @field_validator("eol_os")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _compile_or_explain(pattern)
        return patterns


class Profile(Strict):
    kind: Name
    description: str = ""
    coverage: bool = False
    """Devices of this kind measure a village's coverage (cpe, bts, village router)."""
    checks: list[CheckSpec] = Field(min_length=1)
    aging: AgingRules | None = None

    @model_validator(mode="after")
    def _unique_checks(self) -> Profile:
        names = [c.name for c in self.checks]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"check names must be unique; {', '.join(dupes)} appears twice")
        return self
