"""The base of every config model, and the check models of the built-in probe kinds.

Split from `schema.py` so that a probe kind (`netmon/kinds/`) can declare its check model on
these bases while `schema.py` builds the profile's check union from the kind registry, without an
import cycle.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from netmon.config.values import check_oid, compile_or_explain, host_field, parse_duration, to_secret
from netmon.i18n import _
from netmon.model import Secret

Duration = Annotated[float, BeforeValidator(parse_duration)]
Host = Annotated[str, BeforeValidator(host_field)]
Oid = Annotated[str, AfterValidator(check_oid)]
SecretValue = Annotated[Secret, BeforeValidator(to_secret)]
Name = Annotated[str, Field(min_length=1)]


class Strict(BaseModel):
    """Base of every config model: unknown keys are errors, values are immutable."""

    # allow_inf_nan=False: `.nan`/`.inf` would pass every range check and then break planning.
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True, allow_inf_nan=False)


# ---------------------------------------------------------------- checks of the built-in kinds


class CheckBase(Strict):
    """What every check has: a name unique in its profile, how often and how long to wait."""


    name: Name
    interval: Duration = 60.0
    timeout: Duration = 2.0


class IcmpCheck(CheckBase):
    prober: Literal["icmp"]
    count: int = Field(default=3, ge=1, le=100)
    packet_interval: Duration = 0.2
    """Gap between the packets to one target (Smokeping/fping pace, never a burst)."""


class SnmpCheck(CheckBase):
    prober: Literal["snmp"]
    get: dict[str, Oid] = {}
    walk: dict[str, Oid] = {}
    retries: int = Field(default=1, ge=0, le=5)
    max_repetitions: int = Field(default=25, ge=1, le=200)

    @model_validator(mode="after")
    def _has_oids(self) -> SnmpCheck:
        if not self.get and not self.walk:
            raise ValueError(_("an snmp check needs get: or walk: (name: numeric OID)"))
        return self


class TcpCheck(CheckBase):
    prober: Literal["tcp"]
    port: int | None = Field(default=None, ge=1, le=65535)
    send: str | None = None
    expect: str | None = None


class HttpCheck(CheckBase):
    prober: Literal["http"]
    method: Literal["GET", "HEAD", "POST"] = "GET"
    expect_status: list[Annotated[int, Field(ge=100, le=599)]] = [200]
    body_contains: str | None = None
    body_regex: str | None = None
    follow_redirects: bool = True
    verify_tls: bool = True
    ca_bundle: str | None = None

    @field_validator("body_regex")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            compile_or_explain(value)
        return value


_CheckBase = CheckBase  # the old private name
