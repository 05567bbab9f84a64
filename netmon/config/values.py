"""Checks of single config values: durations, hosts, OIDs, URLs, secrets and SNMPv3 keys.

Each raises `ValueError` with a message that says what to write instead; pydantic turns it into
a `file:line: path: message` issue (see explain.py). A value taken from the environment is named
(`<from env NAME>`), never echoed: it may be a secret written into the wrong field.
"""

from __future__ import annotations

import ipaddress
import math
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from netmon.config.errors import yaml_float
from netmon.i18n import _
from netmon.model import Secret

MAX_DURATION_S = 3650 * 86400.0
"""Ten years: longer is a typo, and would overflow the scheduler's date arithmetic."""
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
_LABEL = r"[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
_OID = re.compile(r"^\.?\d+(\.\d+)+$")


def parse_duration(value: Any) -> float:
    """Turn `60s`, `5m`, `1.5h`, `250ms` or a bare number of seconds into seconds (> 0)."""
    if isinstance(value, bool):
        raise ValueError(_("{value} is not a duration; write e.g. 60s, 5m, 1h").format(value=repr(value)))
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(_("{value} is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d").format(
                value=_shown(value)))
        seconds = float(match.group(1)) * _UNIT_S[match.group(2)]
    if not math.isfinite(seconds):
        raise ValueError(_("{value} is not a finite duration; write e.g. 60s, 5m, 1h").format(value=_shown(value)))
    if seconds <= 0:
        raise ValueError(_("{value} must be longer than zero; write e.g. 60s").format(value=_shown(value)))
    if seconds > MAX_DURATION_S:
        raise ValueError(_("{value} is longer than {days} days; write e.g. 30d").format(
            value=_shown(value), days=f"{MAX_DURATION_S // 86400:.0f}"))
    return seconds


def _shown(value: Any) -> str:
    """A value as echoed in a message: one taken from the environment is named, never shown."""
    source = getattr(value, "source", None)
    if isinstance(value, str) and source:
        return f"<from {source}>"
    if isinstance(value, float):
        return yaml_float(value)
    return repr(value) if isinstance(value, str) else str(value)


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
        shown = _shown(value) if getattr(value, "source", None) else repr(text)
        raise ValueError(_("{value} is not an IP address or host name").format(value=shown))
    return text


def host_field(value: Any) -> Any:
    """`check_host` before the type check, so a value from the environment is known as such."""
    return check_host(value) if isinstance(value, str) else value


def check_oid(value: str) -> str:
    """Numeric OIDs only at runtime (no MIB lookups); names live next to them as keys."""
    text = str(value).strip()
    if not _OID.match(text):
        raise ValueError(_("{value} is not a numeric OID; write it like 1.3.6.1.2.1.1.3.0").format(value=repr(text)))
    return text.lstrip(".")


def compile_or_explain(pattern: str) -> None:
    """Raise a ValueError that explains why `pattern` is not a regular expression."""
    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(_("{pattern} is not a valid regular expression: {problem}").format(
            pattern=repr(pattern), problem=exc)) from None


def check_web_url(value: Any) -> Any:
    """An http(s) URL that parses: a host, a port in 1-65535, no spaces; non-text is left to the type check."""
    if not isinstance(value, str):
        return value
    if not re.match(r"^https?://", value):
        raise ValueError(_("{value} is not a web address; write it with http:// or https://").format(
            value=_shown(value)))
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValueError(_("{value} contains spaces or control characters; write %20 for a space").format(
            value=_shown(value)))
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(_("{value} is not a valid URL ({problem}); write e.g. https://portal.example.vn/").format(
            value=_shown(value), problem=exc)) from None
    if not parts.hostname:
        raise ValueError(_("{value} has no host; write e.g. https://portal.example.vn/").format(value=_shown(value)))
    if port == 0:
        raise ValueError(_("{value} has port 0; use a port from 1 to 65535").format(value=_shown(value)))
    return value


_CREDENTIAL_PARAM = re.compile(r"key|token|pass|pwd|secret|auth|sig|cred|session|sid|jwt|bearer|cookie|otp")


def check_url_has_no_credentials(value: Any) -> Any:
    """URLs are shown in logs, the status view and tags: credentials must not ride in them."""
    value = check_web_url(value)
    if not isinstance(value, str):
        return value
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError(_("must not contain a user name or password (URLs are shown in logs and sent as tags); "
                           "put credentials elsewhere"))
    for name, _value in parse_qsl(parts.query, keep_blank_values=True):
        if _CREDENTIAL_PARAM.search(re.sub(r"[^a-z]", "", name.lower())):
            raise ValueError(_("query parameter '{name}' looks like a credential (URLs are shown in logs and "
                               "reports and sent as the server tag); netmon does not send secrets in URLs, "
                               "remove it").format(name=name[:40]))
    taken = getattr(value, "taken", {})
    query = (parts.query or "") + (parts.fragment or "")
    for env_name, piece in taken.items():
        if piece and piece in query:
            raise ValueError(_("takes ${{{name}}} into the URL's query; values from the environment are treated "
                               "as secrets and never ride in a URL (URLs are shown and sent as tags)").format(
                                   name=env_name))
    return value


def to_secret(value: Any) -> Secret:
    """Wrap a credential so that it never prints; the loader marks values taken from `${ENV}`."""
    if isinstance(value, Secret):
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(_("must be a non-empty string; put the value in an environment variable and write "
                           "${NAME}"))
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(_("contains a line break or another control character; remove it (a value exported "
                           "from a file often keeps its trailing newline)"))
    return Secret(value, getattr(value, "source", "config file"))


MIN_V3_KEY = 8


def check_v3_key(key: str) -> None:
    """RFC 3414 keys are at least 8 characters; pysnmp would otherwise raise with the key in its message."""
    if len(key) < MIN_V3_KEY:
        raise ValueError(_("the key is {n} characters long; SNMPv3 keys need at least {min} (RFC 3414), use the "
                           "one configured on the agent").format(n=len(key), min=MIN_V3_KEY))
    if any(ord(c) < 32 for c in key):
        raise ValueError(_("the key contains control characters or several lines; put only the key there"))
