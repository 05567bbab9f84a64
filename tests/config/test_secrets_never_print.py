"""No secret appears in any output (issue 15, item 5): `netmon check`, `probe`, `run`, their logs and the store.

Secrets come from the environment and a key file and are written into secret fields (token,
community, v3 keys) and, by mistake, into ordinary ones (agent name, profile folder, parent,
host, kind, a duration). A real net-snmp snmpd on loopback refuses the wrong v3 key.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fixtures.need import need

REPO = Path(__file__).resolve().parents[2]
USER, AUTH, PRIV = "netmonv3", "right-auth-key-1234", "right-priv-key-5678"
SECRETS = {
    "NM_TOKEN": "tok-SECRET-1111",
    "NM_COMMUNITY": "comm-SECRET-2222",
    "NM_AUTHKEY": "wrong-auth-SECRET-3333",
    "NM_AGENT": "agent-SECRET-5555",
    "NM_VILLAGE": "village-SECRET-7777",
}
KEY_FILE_SECRET = "priv-file-SECRET-4444"
PROFILE_SECRET = "pdir-SECRET-6666"
MISPLACED = {"NM_DURATION": "dur-SECRET-8888", "NM_PARENT": "parent-SECRET-9999",
             "NM_HOST": "host SECRET-aaaa", "NM_KIND": "kind-SECRET-bbbb", "NM_SHORTKEY": "s3cr7x"}


def all_secrets() -> list[str]:
    return [*SECRETS.values(), KEY_FILE_SECRET, PROFILE_SECRET, *MISPLACED.values()]


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def snmpd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """net-snmp snmpd on loopback with one v3 SHA/AES user whose keys the config gets wrong."""
    need(shutil.which("snmpd") is not None and shutil.which("snmpget") is not None,
         "net-snmp (snmpd, snmpget; Debian packages snmpd snmp)")
    work = tmp_path_factory.mktemp("snmpd")
    port = free_udp_port()
    (work / "persist").mkdir()
    (work / "snmpd.conf").write_text(f"agentAddress udp:127.0.0.1:{port}\nrocommunity ok-community 127.0.0.1\n"
                                     f'createUser {USER} SHA "{AUTH}" AES "{PRIV}"\nrouser {USER} priv\n')
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(work / "persist"), "MIBS": ""}
    proc = subprocess.Popen(["snmpd", "-f", "-Lf", str(work / "log"), "-C", "-c", str(work / "snmpd.conf")],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            done = subprocess.run(["snmpget", "-v2c", "-c", "ok-community", "-t", "0.3", "-r", "0", "-On",
                                   f"127.0.0.1:{port}", "1.3.6.1.2.1.1.3.0"], capture_output=True, text=True)
            if done.returncode == 0:
                break
            assert proc.poll() is None and time.monotonic() < deadline, "snmpd did not start"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def make_config(folder: Path, port: int) -> Path:
    profiles = folder / PROFILE_SECRET
    profiles.mkdir(parents=True, exist_ok=True)
    (profiles / "v3box.yaml").write_text(
        "kind: v3box\nchecks:\n  - {name: sys, prober: snmp, interval: 60s, timeout: 500ms, retries: 0,\n"
        "     get: {sys_descr: 1.3.6.1.2.1.1.1.0}}\n")
    (folder / "priv.key").write_text(KEY_FILE_SECRET + "\n")
    path = folder / "netmon.yaml"
    path.write_text(f"""version: 1
agent: {{name: "${{NM_AGENT}}", state_dir: state}}
profiles: ["{folder}/${{NM_PROFILES}}"]
outputs:
  influxdb: {{url: "http://127.0.0.1:9/", bucket: b, org: o, token: "${{NM_TOKEN}}"}}
auths:
  v2: {{version: 2c, community: "${{NM_COMMUNITY}}"}}
  v3: {{version: 3, user: {USER}, auth: {{protocol: sha, key: "${{NM_AUTHKEY}}"}},
        priv: {{protocol: aes, key_file: priv.key}}}}
inventory:
  - name: Lai Châu
    communes:
      - name: Sìn Hồ
        villages:
          - name: "${{NM_VILLAGE}}"
            devices:
              - {{name: pc-v3, kind: v3box, host: 127.0.0.1, snmp_port: {port}, auth: v3}}
""")
    return path


def netmon(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netmon", "-v", *args], capture_output=True, text=True,
                          timeout=120, cwd=cwd, env={**os.environ, "PYTHONPATH": str(REPO), "COLUMNS": "400", **env})


def assert_clean(text: str, what: str) -> None:
    for secret in all_secrets():
        assert secret not in text, f"{secret!r} printed in {what}:\n{text}"


ENV = {**SECRETS, "NM_PROFILES": PROFILE_SECRET}


def test_check_summary_masks_values_from_the_environment(tmp_path):
    path = make_config(tmp_path, 161)
    out = netmon("check", "-c", str(path), env=ENV, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert_clean(out.stdout + out.stderr, "netmon check")
    assert "agent <from env NM_AGENT>" in out.stdout
    assert f"from {tmp_path}/<from env NM_PROFILES>" in out.stdout


def test_probe_and_run_with_a_wrong_v3_key_print_no_secret(tmp_path, snmpd):
    path = make_config(tmp_path, snmpd)
    text = netmon("probe", "-c", str(path), "pc-v3", env=ENV, cwd=tmp_path)
    as_json = netmon("probe", "-c", str(path), "pc-v3", "--format", "json", env=ENV, cwd=tmp_path)
    assert text.returncode == 1 and as_json.returncode == 1, text.stdout + text.stderr
    assert re.search(r"auth_failed|timeout", text.stdout), text.stdout  # the agent refused the key
    assert "<from env NM_VILLAGE>" in text.stdout
    for out in (text, as_json):
        assert_clean(out.stdout + out.stderr, "netmon probe")
    run = netmon("run", "-c", str(path), "--once", env=ENV, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert_clean(run.stdout + run.stderr, "netmon run --once")
    stored = b"".join(p.read_bytes() for p in (tmp_path / "state").iterdir() if p.is_file())
    assert b"pc-v3" in stored  # the store holds the result (so the grep below looks at real rows)
    # A name taken from the environment is data (the village is called that); credentials never are.
    for secret in (SECRETS["NM_TOKEN"], SECRETS["NM_COMMUNITY"], SECRETS["NM_AUTHKEY"], KEY_FILE_SECRET):
        assert secret.encode() not in stored, f"{secret!r} is in the store"


def test_loader_errors_never_echo_values_from_the_environment(tmp_path):
    path = make_config(tmp_path, 161)
    profile = tmp_path / PROFILE_SECRET / "v3box.yaml"
    profile.write_text(profile.read_text().replace("interval: 60s", "interval: \"${NM_DURATION}\""))
    text = path.read_text()
    device = "              - {name: pc-v3, kind: v3box, host: 127.0.0.1, snmp_port: 161, auth: v3}\n"
    assert device in text
    text = text.replace(device, "              - {name: pc-v3, kind: v3box, host: \"${NM_HOST}\", auth: v3}\n"
                        "              - {name: other, kind: \"${NM_KIND}\", host: 127.0.0.2}\n"
                        "              - {name: third, kind: v3box, auth: v3, host: 127.0.0.3, "
                        "parent: \"${NM_PARENT}\"}\n")
    text = text.replace('key: "${NM_AUTHKEY}"', 'key: "${NM_SHORTKEY}"')
    text = text.replace('profiles: ["', 'profiles: ["${NM_PROFILES}-missing", "')
    path.write_text(text)
    env = {**ENV, **MISPLACED}
    for command in ("check", "run"):
        out = netmon(command, "-c", str(path), env=env, cwd=tmp_path)
        assert out.returncode == 2, out.stdout + out.stderr
        assert "Traceback" not in out.stderr
        assert_clean(out.stdout + out.stderr, f"netmon {command} errors")
        problems = [line for line in out.stderr.splitlines() if not line.startswith(("netmon:", "20"))]
        assert len(problems) >= 6, out.stderr
        for line in problems:
            assert re.match(r"^[^:]+:\d+: ", line), line
        for label in ("<from env NM_DURATION>", "<from env NM_PARENT>", "<from env NM_HOST>",
                      "<from env NM_KIND>", "<from env NM_PROFILES>-missing"):
            assert label in out.stderr, (label, out.stderr)
        assert "SNMPv3 keys need at least 8" in out.stderr


def test_log_lines_and_tracebacks_are_masked_but_not_their_prefix(capsys):
    """The formatter netmon's logging uses: message and traceback masked, logger name and level kept."""
    import logging

    from netmon.config.secrets import remember
    from netmon.logs import setup_logging

    remember({"logged-SECRET-cccc": "<from env NM_LOGGED>", "netmon": "<from env NM_USER>"})
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    setup_logging()
    try:
        log = logging.getLogger("netmon.test")
        log.warning("value %s", "logged-SECRET-cccc")
        try:
            raise ValueError("the key logged-SECRET-cccc is wrong")
        except ValueError:
            log.exception("probe failed")
    finally:
        root.handlers[:] = handlers
        root.setLevel(level)
    err = capsys.readouterr().err
    assert "logged-SECRET-cccc" not in err
    assert "WARNING netmon.test: value <from env NM_LOGGED>" in err
    assert "ValueError: the key <from env NM_LOGGED> is wrong" in err
