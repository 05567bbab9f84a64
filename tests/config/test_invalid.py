# ruff: noqa: E501  (the table holds exact, full-length messages)
"""Every invalid config fixture in tests/testdata/invalid/ with the exact lines `netmon check` prints."""

from __future__ import annotations

from pathlib import Path

import pytest

from netmon.config import ConfigError, load_config
from netmon.kinds.registry import names

KNOWN_PROBERS = ", ".join(names())
BUNDLED = ", ".join(sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "probes").glob("*.yaml")))
"""The bundled profiles (probes/*.yaml): a new probe kind's profile joins the list without editing this table."""
"""The registered probe kinds, in registry order (icmp, snmp, tcp, http first)."""

INVALID = Path(__file__).resolve().parent.parent / "testdata" / "invalid"
SECRETS = {"NETMON_SNMP_COMMUNITY": "s3cret-c0mmunity", "NETMON_INFLUX_TOKEN": "t0ken-value",
           "NETMON_SNMP_AUTH_KEY": "auth-k3y-value"}
INLINE_SECRETS = ("s3cret-inline", "12345", "hunter2-in-url", "query-s3cret", "hunter2")
"""Credentials written inline (several-errors.yaml, url-credentials.yaml): wrong, and never echoed."""

CASES = [
    ('agent-values.yaml', [
        "agent-values.yaml:4: agent.timezone: 'Asia/Ha_Noi' is not a known timezone; write e.g. Asia/Ho_Chi_Minh",
        "agent-values.yaml:5: agent.office_hours: '0730' is not a time of day; write HH:MM (e.g. 'Mon-Fri 07:30-11:30,13:30-17:00')",
    ]),
    ('bad-eol-regex.yaml', [
        "profiles-bad-eol/oldpc.yaml:5: aging.eol_os: 'Windows (XP' is not a valid regular expression: missing ), unterminated subpattern at position 8",
    ]),
    ('device-url-credentials.yaml', [
        "device-url-credentials.yaml:7: inventory[0].communes[0].devices[0].url: must not contain a user name or password (URLs are shown in logs and sent as tags); put credentials elsewhere",
    ]),
    ('bad-duration.yaml', [
        "bad-duration.yaml:3: store.retention: '30 days' is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d",
        "bad-duration.yaml:5: analysis.evaluate_every: '5 min' is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d",
    ]),
    ('bad-hostname.yaml', [
        "bad-hostname.yaml:7: inventory[0].communes[0].devices[0].host: 'camera cong.laichau' is not an IP address or host name",
    ]),
    ('bad-ip.yaml', [
        "bad-ip.yaml:9: inventory[0].communes[0].villages[0].devices[0].host: '10.0.300.1' is not an IP address or host name",
    ]),
    ('comma-name.yaml', [
        'comma-name.yaml:8: inventory[0].communes[0].villages[0]: unknown key \'Nậm Tăm\'; if it is the rest of a name that contains a comma, quote the name (name: "..., Nậm Tăm")',
    ]),
    ('cyclic-parent.yaml', [
        'cyclic-parent.yaml:7: inventory[0].communes[0].devices[0].parent: parents form a cycle: lai-chau/sin-ho/router-a -> lai-chau/sin-ho/router-c -> lai-chau/sin-ho/router-b -> lai-chau/sin-ho/router-a; remove parent: from one of them',
        'cyclic-parent.yaml:10: inventory[0].communes[0].devices[3].parent: a device cannot be its own parent; remove parent: or name the device it depends on',
    ]),
    ('duplicate-id.yaml', [
        "duplicate-id.yaml:13: inventory[0].communes[0].villages[1].devices[0]: device id 'lai-chau/sin-ho/ta-phin/bts-1' is used twice, at duplicate-id.yaml:10 and duplicate-id.yaml:13 (village names 'Tả Phìn' and 'Ta Phin' give the same id); rename one",
    ]),
    ('include-error/netmon.yaml', [
        "include-error/inventory/dien-bien.yaml:6: inventory[0].communes[0].devices[0].host: '10.30.0.300' is not an IP address or host name",
        "include-error/inventory/lai-chau.yaml:6: inventory[1].communes[0].devices[0]: unknown key 'enabeld'; did you mean 'enabled'?",
    ]),
    ('missing-env.yaml', [
        'missing-env.yaml:3: auths.camera-v2.community: environment variable NETMON_CAMERA_COMMUNITY is not set; export it (e.g. in /etc/netmon/env for the systemd unit) or write the value here',
        'missing-env.yaml:5: outputs.influxdb.token: environment variable NETMON_INFLUX_TOKN is not set; export it (e.g. in /etc/netmon/env for the systemd unit) or write the value here',
    ]),
    ('missing-include/netmon.yaml', [
        'missing-include/netmon.yaml:3: include: included file missing-include/lai-chau.yaml does not exist; check the name',
        "missing-include/netmon.yaml:4: include: 'provinces/*.yaml' matches no file (looked for missing-include/provinces/*.yaml); check the pattern",
    ]),
    ('missing-key-file/netmon.yaml', [
        'missing-key-file/netmon.yaml:6: auths.office-v3.auth.key_file: cannot read key file missing-key-file/keys/auth.key (No such file or directory); check the path and that netmon may read it',
        'missing-key-file/netmon.yaml:7: auths.office-v3.priv.key_file: key file missing-key-file/keys/priv.key is empty; put the key on its first line',
    ]),
    ('output-in-flight.yaml', [
        "output-in-flight.yaml:5: outputs.influxdb[0].max_in_flight: 0 is too small; use 1 or more",
        "output-in-flight.yaml:6: outputs.influxdb[1].max_in_flight: 5 is too large; use 4 or less",
        "output-in-flight.yaml:10: outputs.influxdb[2].max_in_flight: 'two' is not a whole number; write digits only",
    ]),
    ('profile-errors/netmon.yaml', [
        "profile-errors/probes/fast-ping.yaml:3: check 'zero' (icmp).interval: 0 must be longer than zero; write e.g. 60s",
        "profile-errors/probes/fast-ping.yaml:4: check 'negative' (icmp).interval: '-5s' is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d",
        "profile-errors/probes/fast-ping.yaml:5: check 'silly' (tcp).timeout: '3 secs' is not a duration; write e.g. 500ms, 60s, 5m, 1h, 1d",
        "profile-errors/probes/uplink.yaml:5: check 'uplink' (snmp): unknown key 'intervall'; did you mean 'interval'?",
        "profile-errors/probes/uplink.yaml:8: check 'uplink' (snmp).get.if_speed: '1.3.6.1.2.1.2.2.1.x' is not a numeric OID; write it like 1.3.6.1.2.1.1.3.0",
        f"profile-errors/probes/uplink.yaml:9: check 'reachability' (icmpp): prober 'icmpp' is not known; did you mean 'icmp'? use one of: {KNOWN_PROBERS}",
        "profile-errors/probes/uplink.yaml:10: check 'web' (http).method: 'PUT' is not allowed here; use one of: GET, HEAD, POST",
    ]),
    ('several-errors.yaml', [
        'several-errors.yaml:4: agent.name: must not be empty; write a value or remove the key',
        'several-errors.yaml:5: agent.shard: index 2 must be below count 2',
        "several-errors.yaml:7: scheduler.concurrency: 'many' is not a whole number; write digits only",
        "several-errors.yaml:10: outputs.influxdb.url: 'influx.laichau:8086' is not a web address; write it with http:// or https://",
        'several-errors.yaml:12: outputs.influxdb.token: must be a non-empty string; put the value in an environment variable and write ${NAME}',
        'several-errors.yaml:14: auths.office-v2.community: must be a non-empty string; put the value in an environment variable and write ${NAME}',
        'several-errors.yaml:19: inventory[0].communes[0].location.lat: 122.3 is too large; use 90.0 or less',
        "several-errors.yaml:21: inventory[0].communes[0].devices[0]: required key 'name' is missing; add name: ...",
        "several-errors.yaml:22: inventory[0].communes[0].devices[1]: profile 'service' has http checks, so the device needs url: (http:// or https:// address)",
        "several-errors.yaml:23: inventory[0].communes[0].devices[2]: check 'tcp' (tcp) of profile 'port' has no port; add port: to the device",
        'several-errors.yaml:24: inventory[0].communes[0].devices[3].port: 70000 is too large; use 65535 or less',
    ]),
    ('snmp-without-auth.yaml', [
        "snmp-without-auth.yaml:9: inventory[0].communes[0].devices[0]: profile 'router' has snmp checks (system), so the device needs auth: (one of: office-v2)",
    ]),
    ('unknown-auth.yaml', [
        "unknown-auth.yaml:9: inventory[0].communes[0].devices[0].auth: auth 'ofice-v2' is not defined under auths:; did you mean 'office-v2'? defined: office-v2",
    ]),
    ('unknown-key-levels.yaml', [
        "unknown-key-levels.yaml:4: agent: unknown key 'nmae'; did you mean 'name'?",
        "unknown-key-levels.yaml:6: scheduler: unknown key 'max_ppps'; did you mean 'max_pps'?",
        "unknown-key-levels.yaml:11: inventory[0].communes[0]: unknown key 'operater'; did you mean 'operator'?",
        "unknown-key-levels.yaml:17: inventory[0].communes[0].villages[0].devices[0]: unknown key 'hots'; did you mean 'host'?",
    ]),
    ('unknown-parent.yaml', [
        "unknown-parent.yaml:11: inventory[0].communes[0].villages[0].devices[0].parent: parent 'ubnd-ruoter' matches no device in village 'Tả Phìn' or commune 'Sìn Hồ' and no device id; did you mean 'ubnd-router'?",
    ]),
    ('unknown-profile.yaml', [
        f"unknown-profile.yaml:7: inventory[0].communes[0].devices[0].kind: kind 'routr' has no profile (probes/routr.yaml); did you mean 'router'? set profile: to one of: {BUNDLED}",
        f"unknown-profile.yaml:8: inventory[0].communes[0].devices[1].profile: profile 'cammera' is not known; did you mean 'camera'? known: {BUNDLED}",
    ]),
    ('url-credentials.yaml', [
        "url-credentials.yaml:5: outputs.influxdb[0].url: the URL must not carry user info or a query (URLs are shown in logs); use token: (api v2) or username:/password: (api v1) with ${NAME}",
        "url-credentials.yaml:6: outputs.influxdb[1].url: the URL must not carry user info or a query (URLs are shown in logs); use token: (api v2) or username:/password: (api v1) with ${NAME}",
    ]),
    ('v3-no-protocol.yaml', [
        "v3-no-protocol.yaml:6: auths.office-v3.auth: required key 'protocol' is missing; add protocol: sha, sha256, ... (auth) or aes, aes256, ... (priv); without it pysnmp silently uses MD5/DES",
    ]),
    ('wrong-version.yaml', [
        'wrong-version.yaml:1: version: config version 2 is not supported by this netmon; write version: 1',
    ]),
    ('yaml-syntax.yaml', [
        "yaml-syntax.yaml:6: YAML syntax error: mapping values are not allowed in this context; check the indentation and quote values that contain ': ', '#', '{' or '['",
    ]),
]


def test_every_fixture_is_in_the_table() -> None:
    """A fixture without an expected message would silently test nothing."""
    fixtures = {p.name for p in INVALID.glob("*.yaml")} | {f"{p.parent.name}/netmon.yaml" for p in INVALID.glob("*/netmon.yaml")}
    assert fixtures == {name for name, _ in CASES}
    assert len(CASES) >= 18


@pytest.mark.parametrize(("fixture", "expected"), CASES, ids=[name for name, _ in CASES])
def test_invalid_config(fixture: str, expected: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The fixture fails to load with exactly these lines, sorted by file and line, and no secret in them."""
    monkeypatch.chdir(INVALID)  # file names in messages are relative to the working folder
    with pytest.raises(ConfigError) as caught:
        load_config(fixture, environ=SECRETS)
    text = str(caught.value)
    assert text.splitlines() == expected
    assert [str(i) for i in caught.value.issues] == expected
    for secret in (*SECRETS.values(), *INLINE_SECRETS):
        assert secret not in text
    assert "input_value" not in text and "pydantic" not in text
