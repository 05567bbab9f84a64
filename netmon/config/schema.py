"""The shape of netmon's YAML: agent config, inventory and profiles, as frozen pydantic models.

These models are the single definition of every key netmon accepts. The loader (`load.py`)
feeds them YAML that remembers line numbers and turns pydantic's errors into
`file:line: path: message` lines. Every model forbids unknown keys, so a typo is an error with a
did-you-mean, never a silently ignored setting.

This module holds the root (`AgentConfig`), the inventory and the profiles; the agent-level
sections (agent, scheduler, store, outputs, auths, analysis) are in `schema_settings.py` and the
check models in `checks.py`, both re-exported here.
"""

# RUF012: ruff cannot see that `Strict` (from checks.py) is a pydantic model, whose list defaults are copied.
# ruff: noqa: RUF012

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BeforeValidator,
    Field,
    field_validator,
    model_validator,
)

from netmon.config.checks import (
    CheckBase,
    Duration,
    Host,
    HttpCheck,
    IcmpCheck,
    Name,
    Oid,
    SecretValue,
    SnmpCheck,
    Strict,
    TcpCheck,
    _CheckBase,
)
from netmon.config.notify_schema import NotifySettings
from netmon.config.schema_settings import (  # the agent-level sections, re-exported: importers keep this path
    DAY_S,
    AgentSettings,
    AnalysisSettings,
    InfluxOutput,
    KeySpec,
    OfficeSpan,
    Outputs,
    RetentionSettings,
    SchedulerSettings,
    Shard,
    SnmpAuth,
    StabilityThresholds,
    StoreSettings,
)
from netmon.config.values import (
    MAX_DURATION_S,
    MIN_V3_KEY,
    check_host,
    check_oid,
    check_url_has_no_credentials,
    check_v3_key,
    check_web_url,
    compile_or_explain,
    parse_duration,
    to_secret,
)
from netmon.i18n import _
from netmon.kinds.registry import check_union

# The check models moved to checks.py (so probe kinds can build on them); importers keep this path.
# The agent-level sections moved to schema_settings.py (to keep modules small); likewise re-exported.
__all__ = ["DAY_S", "MAX_DURATION_S", "MIN_V3_KEY", "AgentSettings", "AnalysisSettings", "CheckBase", "Duration",
           "Host", "HttpCheck", "IcmpCheck", "InfluxOutput", "KeySpec", "Name", "OfficeSpan", "Oid", "Outputs",
           "RetentionSettings", "SchedulerSettings", "SecretValue", "Shard", "SnmpAuth", "SnmpCheck",
           "StabilityThresholds", "StoreSettings", "Strict", "TcpCheck", "_CheckBase", "check_host", "check_oid",
           "check_url_has_no_credentials", "check_v3_key", "check_web_url", "parse_duration", "to_secret"]

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
    url: Annotated[str, BeforeValidator(check_url_has_no_credentials)] | None = None
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
            raise ValueError(_("needs host: (an IP address or host name) or url:"))
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
    """After `load_config`: provinces, communes and villages without their `devices:` entries
    (`Config.devices` has those, resolved)."""
    notify: NotifySettings | None = None
    """Notifications and maintenance windows (netmon/config/notify_schema.py); absent: no messages."""

    @model_validator(mode="after")
    def _retention_covers_analysis(self) -> AgentConfig:
        keep, a = self.store.retention, self.analysis
        if keep.rollups_fine < a.window_trend:
            raise ValueError(_("store.retention.rollups_fine ({fine} h) must cover analysis.window_trend ({trend} h)")
                             .format(fine=f"{keep.rollups_fine / 3600:g}", trend=f"{a.window_trend / 3600:g}"))
        return self


# ---------------------------------------------------------------- profiles (probes/*.yaml)


CheckSpec = check_union()
"""One check of a profile: the model of the probe kind its `prober:` names (netmon/kinds/registry.py)."""


class AgingRules(Strict):
    """PC replacement thresholds (issue 4); matched against what real agents report."""

    disk_used_pct: float = 90.0
    min_ram_mb: int = Field(default=4096, ge=0, le=1_000_000_000)
    cpu_load_pct: float = 85.0
    reboots_per_week: int = Field(default=3, ge=0, le=1_000_000)
    office_reachability_pct: float = 95.0
    eol_os: list[str] = []
    """Regular expressions matched against sysDescr, e.g. `Windows 7`, `Windows Version 6\\.1`."""

    @field_validator("eol_os")
    @classmethod
    def _patterns_compile(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            compile_or_explain(pattern)
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
            raise ValueError(_("check names must be unique; {names} appears twice").format(names=", ".join(dupes)))
        return self
