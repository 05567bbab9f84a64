# ruff: noqa: E501  (the table holds exact, full-length messages)
"""The loader cannot be knocked over (issue 15, item 4): hostile files and values give one clear line each."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from netmon.config import ConfigError, load_config

REPO = Path(__file__).resolve().parents[2]
HEAD = "version: 1\nagent: {name: t, state_dir: state}\n"
DEVICE = "inventory:\n  - name: P\n    communes:\n      - name: C\n        devices:\n          - {name: d, kind: bts, %s}\n"


def errors(path: Path | str, environ: dict[str, str] | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(path, environ=environ or {})
    return str(caught.value).splitlines()


@pytest.fixture(autouse=True)
def _here(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "netmon.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    os.mkfifo(tmp_path / "netmon.yaml")
    started = time.monotonic()
    assert errors("netmon.yaml") == ["netmon.yaml:1: the file is a FIFO (named pipe), not a regular file; give the path of a YAML file"]
    assert time.monotonic() - started < 5


def test_devices_and_folders_are_refused(tmp_path):
    assert errors("/dev/zero") == ["/dev/zero:1: the file is a character device, not a regular file; give the path of a YAML file"]
    (tmp_path / "folder.yaml").mkdir()
    assert errors("folder.yaml") == ["folder.yaml:1: the file is a folder, not a regular file; give the path of a YAML file"]


def test_oversized_file_is_refused_without_reading_it(tmp_path):
    with open(tmp_path / "netmon.yaml", "wb") as fh:
        fh.truncate(20 * 1024 * 1024 * 1024)  # sparse: 20 GB that the loader must not read
    assert errors("netmon.yaml") == ["netmon.yaml:1: the file is 20480.0 MB, more than netmon reads (16.0 MB); check the path"]


def test_non_utf8_names_its_line(tmp_path):
    (tmp_path / "netmon.yaml").write_bytes(b"version: 1\nagent: {name: \xff}\n")
    assert errors("netmon.yaml") == ["netmon.yaml:2: the file is not UTF-8 text here; save the file as UTF-8"]


BOMB = HEAD + "x-a: &a [" + ",".join(["lol"] * 9) + "]\n" + "".join(
    f"x-{c}: &{c} [{','.join([f'*{p}'] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)) + \
    "analysis: {coverage_kinds: *i}\n"


def test_alias_bomb_is_refused_quickly_and_small():
    """The issue's 12 KB billion-laughs file took 6 GB; run in a child with a 1 GB address-space cap."""
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
            "from netmon.config import load_config, ConfigError\n"
            "try:\n    load_config(sys.argv[1], environ={})\nexcept ConfigError as e:\n    print(e)")
    path = Path("bomb.yaml")
    path.write_text(BOMB)
    started = time.monotonic()
    out = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("bomb.yaml:11: YAML aliases expand this file by 926,177,013 values (111 written; "), out.stdout
    assert "alias bombs" in out.stdout
    assert time.monotonic() - started < 30


def test_alias_bomb_in_a_key_is_refused(tmp_path):
    bomb = BOMB.replace("analysis: {coverage_kinds: *i}\n", "x-key: {? *i : 1}\n")
    write(tmp_path, bomb)
    assert errors("netmon.yaml")[0].startswith("netmon.yaml:11: YAML aliases expand this file by 926,177,013 values")


def test_honest_aliases_and_merges_still_work(tmp_path):
    devices = "".join(f"          - {{<<: *dev, name: d{i}, host: 127.0.0.{i + 1}}}\n" for i in range(50))
    write(tmp_path, HEAD + "x-dev: &dev {kind: bts, operator: VNPT}\ninventory:\n  - name: P\n    communes:\n"
          "      - name: C\n        devices:\n" + devices)
    config = load_config("netmon.yaml", environ={})
    assert len(config.devices) == 50 and {d.operator for d in config.devices} == {"VNPT"}


def test_recursive_alias_and_deep_nesting(tmp_path):
    write(tmp_path, HEAD + "x-loop: &a {me: *a}\n")
    assert errors("netmon.yaml") == ["netmon.yaml:3: an alias refers to a mapping or list that contains it; YAML recursion is not allowed in a config"]
    write(tmp_path, HEAD + "x-deep: " + "[" * 500 + "]" * 500 + "\n")
    assert errors("netmon.yaml") == ["netmon.yaml:3: nested more than 64 levels deep; a netmon config needs about 12"]
    write(tmp_path, HEAD + "x-a: &a 1\nx-deep: " + "[" * 500 + "]" * 500 + "\n")  # the anchored path (measure)
    assert errors("netmon.yaml") == ["netmon.yaml:4: nested more than 64 levels deep; a netmon config needs about 12"]
    write(tmp_path, HEAD + "x-deep: " + "[" * 5000 + "]" * 5000 + "\n")
    assert errors("netmon.yaml")[0].startswith("netmon.yaml:3: YAML syntax error: exceeded maximum nesting depth")


@pytest.mark.parametrize(("value", "expected"), [
    ("!!timestamp not-a-date", "netmon.yaml:3: agent.timezone: 'not-a-date' is not a valid timestamp; fix the value or quote it as text"),
    ("!!int twelve", "netmon.yaml:3: agent.timezone: 'twelve' is not a valid int; fix the value or quote it as text"),
    ("!!bool maybe", "netmon.yaml:3: agent.timezone: 'maybe' is not a valid bool; fix the value or quote it as text"),
    ("!!binary aGVsbG8=", "netmon.yaml:3: agent.timezone: unknown YAML tag 'tag:yaml.org,2002:binary'; netmon takes plain values (use ${NAME} for values from the environment)"),
    ("!!python/object:os.system x", "netmon.yaml:3: agent.timezone: unknown YAML tag 'tag:yaml.org,2002:python/object:os.system'; netmon takes plain values (use ${NAME} for values from the environment)"),
    ("9" * 5000, "netmon.yaml:3: agent.timezone: '9999999999999999999999999999999999999999... (5000 characters)' is not a valid int; fix the value or quote it as text"),
    ("9" * 30, "netmon.yaml:3: agent.timezone: the number 999999999999999999999999999999 is too large; netmon takes whole numbers up to 9223372036854775807"),
    ('"Asia/Ho\\0Chi_Minh"', "netmon.yaml:3: agent.timezone: the text contains a NUL character (\\0); remove it"),
])
def test_odd_scalars_are_issues_on_their_line(tmp_path, value, expected):
    write(tmp_path, f"version: 1\nagent:\n  timezone: {value}\n")
    assert errors("netmon.yaml") == [expected]


def test_control_character_in_the_file(tmp_path):
    (tmp_path / "netmon.yaml").write_bytes(b"version: 1\nagent:\n  name: a\x07b\n")
    assert errors("netmon.yaml") == ["netmon.yaml:3: YAML error: control characters are not allowed; YAML files may not contain control characters (write \\0 or \\t escapes inside double quotes instead)"]


@pytest.mark.parametrize(("url", "expected"), [
    ("http://[::1", "'http://[::1' is not a valid URL (Invalid IPv6 URL); write e.g. https://portal.example.vn/"),
    ("http://127.0.0.1:99999999/", "'http://127.0.0.1:99999999/' is not a valid URL (Port out of range 0-65535); write e.g. https://portal.example.vn/"),
    ("http://127.0.0.1:0/", "'http://127.0.0.1:0/' has port 0; use a port from 1 to 65535"),
    ("http:///path", "'http:///path' has no host; write e.g. https://portal.example.vn/"),
    ("http://a b/", "'http://a b/' contains spaces or control characters; write %20 for a space"),
    ("ftp://x/", "'ftp://x/' is not a web address; write it with http:// or https://"),
    ("http://127.0.0.1/?apikey=abc", "query parameter 'apikey' looks like a credential (URLs are shown in logs and reports and sent as the server tag); netmon does not send secrets in URLs, remove it"),
    ("http://127.0.0.1/?x=1&access_token=abc", "query parameter 'access_token' looks like a credential (URLs are shown in logs and reports and sent as the server tag); netmon does not send secrets in URLs, remove it"),
    ("http://127.0.0.1/?Password=abc", "query parameter 'Password' looks like a credential (URLs are shown in logs and reports and sent as the server tag); netmon does not send secrets in URLs, remove it"),
    ("http://127.0.0.1/?key=abc", "query parameter 'key' looks like a credential (URLs are shown in logs and reports and sent as the server tag); netmon does not send secrets in URLs, remove it"),
    ("http://u:p@127.0.0.1/", "must not contain a user name or password (URLs are shown in logs and sent as tags); put credentials elsewhere"),
    ("http://127.0.0.1/?site=${SITE}", "takes ${SITE} into the URL's query; values from the environment are treated as secrets and never ride in a URL (URLs are shown and sent as tags)"),
])
def test_device_urls(tmp_path, url, expected):
    write(tmp_path, HEAD + DEVICE % f"profile: service, url: '{url}'")
    assert errors("netmon.yaml", {"SITE": "laichau-site"}) == [f"netmon.yaml:8: inventory[0].communes[0].devices[0].url: {expected}"]


def test_plain_query_is_fine(tmp_path):
    write(tmp_path, HEAD + DEVICE % "profile: service, url: 'http://127.0.0.1:8080/health?verbose=1'")
    assert load_config("netmon.yaml", environ={}).devices[0].url == "http://127.0.0.1:8080/health?verbose=1"


def test_output_url_port_out_of_range(tmp_path):
    write(tmp_path, HEAD + "outputs:\n  influxdb: {url: 'http://127.0.0.1:99999999', bucket: b}\n")
    assert errors("netmon.yaml") == ["netmon.yaml:4: outputs.influxdb.url: 'http://127.0.0.1:99999999' is not a valid URL (Port out of range 0-65535); write e.g. https://portal.example.vn/"]


ENV_CASES = [
    ("${A}", {"A": "alpha-1"}, "alpha-1"),
    ("${A:-dflt}", {}, "dflt"),
    ("${A:-dflt}", {"A": ""}, "dflt"),
    ("${A-dflt}", {"A": ""}, None),  # set but empty: the empty name is then refused by the schema
    ("${A-dflt}", {"A": "given"}, "given"),
    ("x-${A:-}-y", {}, "x--y"),
    ("$${A}", {"A": "zzz"}, "${A}"),
    ("cost $$5", {}, "cost $5"),
    ("price $5", {}, "price $5"),
    ("${A:?give A}", {"A": "here"}, "here"),
]


@pytest.mark.parametrize(("text", "environ", "name"), ENV_CASES)
def test_environment_references(tmp_path, text, environ, name):
    write(tmp_path, f"version: 1\nagent: {{name: '{text}'}}\n")
    if name is None:
        assert errors("netmon.yaml", environ) == ["netmon.yaml:2: agent.name: must not be empty; write a value or remove the key"]
    else:
        assert load_config("netmon.yaml", environ=environ).settings.agent.name == name


@pytest.mark.parametrize(("text", "expected"), [
    ("${A:?give A the agent name}", "environment variable A is not set: give A the agent name"),
    ("${A?}", "environment variable A is not set: it is required"),
    ("$A", "'$A' is not substituted; write ${A} for an environment variable or $$ for a literal $"),
    ("${A", "'${A' is not a variable reference; write ${NAME}, ${NAME:-default} or ${NAME:?message} (NAME: letters, digits, _), or $$ for a $"),
    ("${1A}", "'${1A}' is not a variable reference; write ${NAME}, ${NAME:-default} or ${NAME:?message} (NAME: letters, digits, _), or $$ for a $"),
    ("${A:-${B}}", "the default or message of ${A...} contains '$'; nested references are not supported"),
    ("${A}", "environment variable A is not set; export it (e.g. in /etc/netmon/env for the systemd unit) or write the value here"),
])
def test_environment_reference_errors(tmp_path, text, expected):
    write(tmp_path, f"version: 1\nagent: {{name: '{text}'}}\n")
    assert errors("netmon.yaml") == [f"netmon.yaml:2: agent.name: {expected}"]


def test_key_file_problems(tmp_path):
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "short.key").write_text("abc\n")
    os.mkfifo(tmp_path / "keys" / "fifo.key")
    write(tmp_path, HEAD + "auths:\n  v3:\n    version: 3\n    user: u\n"
          "    auth: {protocol: sha, key_file: keys/short.key}\n    priv: {protocol: aes, key_file: keys/fifo.key}\n")
    assert errors("netmon.yaml") == [
        "netmon.yaml:7: auths.v3.auth.key_file: key file keys/short.key: the key is 3 characters long; SNMPv3 keys need at least 8 (RFC 3414), use the one configured on the agent",
        "netmon.yaml:8: auths.v3.priv.key_file: key file keys/fifo.key is a FIFO (named pipe), not a regular file; give the path of a YAML file",
    ]


def test_include_fan_out_is_bounded(tmp_path):
    (tmp_path / "leaf.yaml").write_text("[]\n")
    (tmp_path / "mid.yaml").write_text("".join("- include: leaf.yaml\n" for _ in range(200)))
    write(tmp_path, HEAD + "inventory:\n" + "".join("  - include: mid.yaml\n" for _ in range(200)))
    started = time.monotonic()
    assert errors("netmon.yaml") == ["mid.yaml:1: include: more than 10,000 included files in all; include each file once"]
    assert time.monotonic() - started < 30


def test_memory_stays_bounded_on_dev_zero():
    """`-c /dev/zero` used to read until MemoryError; now it is one line, in a child capped at 1 GB."""
    code = ("import resource; resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30));"
            "from netmon.cli import main; raise SystemExit(main(['check', '-c', '/dev/zero']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(REPO)})
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "/dev/zero:1: the file is a character device" in out.stderr  # (read whole, it hit the 1 GB cap)


def test_secret_with_a_line_break_is_refused_without_echo(tmp_path):
    write(tmp_path, HEAD + "auths:\n  v2: {version: 2c, community: \"${COMM}\"}\n")
    lines = errors("netmon.yaml", {"COMM": "comm-value-x\n"})
    assert lines == ["netmon.yaml:4: auths.v2.community: contains a line break or another control character; remove it (a value exported from a file often keeps its trailing newline)"]


def test_parent_that_failed_validation_is_not_a_second_error(tmp_path):
    write(tmp_path, HEAD + "inventory:\n  - name: P\n    communes:\n      - name: C\n        devices:\n"
          "          - {name: r, kind: bts, host: 'http://[::1'}\n          - {name: d, kind: bts, host: 127.0.0.1, parent: r}\n"
          "          - {name: e, kind: bts, host: 127.0.0.2, parent: nobody}\n")
    assert errors("netmon.yaml") == [
        "netmon.yaml:8: inventory[0].communes[0].devices[0].host: 'http://[::1' is not an IP address or host name",
        "netmon.yaml:10: inventory[0].communes[0].devices[2].parent: parent 'nobody' matches no device in commune 'C' and no device id; write a device name from the same commune or a full id",
    ]


def test_thousands_of_problems_print_the_first_500(tmp_path):
    devices = "".join(f"          - {{name: d{i}, kind: bts, host: 10.0.0.{300 + i}}}\n" for i in range(2000))
    write(tmp_path, HEAD + "inventory:\n  - name: P\n    communes:\n      - name: C\n        devices:\n" + devices)
    with pytest.raises(ConfigError) as caught:
        load_config("netmon.yaml", environ={})
    lines = str(caught.value).splitlines()
    assert len(caught.value.issues) == 2000 and len(lines) == 501
    assert lines[0] == "netmon.yaml:8: inventory[0].communes[0].devices[0].host: '10.0.0.300' is not an IP address or host name"
    assert lines[-1] == "... and 1,500 more problems; fix these first"


def test_alias_budget_holds_across_included_files(tmp_path):
    """Each file adds ~390,000 values through aliases (allowed alone); the third passes 1,000,000 in all."""
    leaf = "- name: P\n  x-a: &a [" + ",".join(["v"] * 30) + "]\n  x-b: &b [" + ",".join(["*a"] * 30) + \
        "]\n  x-c: &c [" + ",".join(["*b"] * 30) + "]\n  x-d: [" + ",".join(["*c"] * 14) + "]\n"
    for i in range(3):
        (tmp_path / f"p{i}.yaml").write_text(leaf)
    write(tmp_path, HEAD + "inventory:\n" + "".join(f"  - include: p{i}.yaml\n" for i in range(3)))
    bombs = [line for line in errors("netmon.yaml") if "YAML aliases" in line]
    assert len(bombs) == 1 and bombs[0].startswith("p2.yaml:4: YAML aliases expand this file by 419,820 values "
                                                   "(115 written; the anchor here is aliased 14 times); with the "
                                                   "config's other files that makes 1,259,460, over 1,000,000"), bombs


def test_byte_budget_across_files(tmp_path):
    big = "# " + "x" * (15 * 1024 * 1024) + "\n[]\n"
    for i in range(5):
        (tmp_path / f"p{i}.yaml").write_text(big)
    write(tmp_path, HEAD + "inventory:\n" + "".join(f"  - include: p{i}.yaml\n" for i in range(5)))
    lines = errors("netmon.yaml")
    assert lines == ["p4.yaml:1: with this file the config's files add up to more than 64 MB; include fewer or smaller files"]
