"""The daemon as a user runs it: a real process probing real loopback targets into a real store."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

PROFILE = """kind: fastping
checks:
  - {name: reachability, prober: icmp, interval: %s, count: 2, timeout: 500ms, packet_interval: 10ms}
"""


def write_config(folder: Path, n_devices: int, interval: str = "2s", first_octet: int = 30) -> Path:
    """A province of `n_devices` loopback targets (127.N.x.y), 10 per village."""
    (folder / "profiles").mkdir(parents=True, exist_ok=True)
    (folder / "profiles" / "fastping.yaml").write_text(PROFILE % interval)
    lines = ["version: 1", "agent: {name: test-agent, state_dir: state}", "profiles: [profiles]",
             "inventory:", "  - name: Điện Biên", "    communes:", "      - name: Mường Nhé", "        villages:"]
    for v in range((n_devices + 9) // 10):
        lines += [f"          - name: Bản {v}, Chung Chải", "            devices:"]
        for d in range(v * 10, min(n_devices, v * 10 + 10)):
            host = f"127.{first_octet}.{d // 250}.{d % 250 + 1}"
            lines.append(f"              - {{name: cpe-{d}, kind: fastping, host: {host}}}")
    path = folder / "netmon.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def netmon(*args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "netmon", *args], capture_output=True, text=True,
                          timeout=120, cwd=REPO, **kw)


def start_daemon(config: Path, log: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "netmon", "run", "-c", str(config)],
                            stdout=subprocess.DEVNULL, stderr=log.open("w"), cwd=REPO)


def stored(config: Path) -> list[tuple[str, str]]:
    db = config.parent / "state" / "netmon.db"
    if not db.exists():
        return []
    with sqlite3.connect(db) as conn:
        try:
            return conn.execute("SELECT device_id, status FROM results").fetchall()
        except sqlite3.OperationalError as e:
            # The daemon creates the file a moment before its schema: polled early, that is "nothing yet".
            if "no such table" in str(e):
                return []
            raise


def wait_for(predicate, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def stop(proc: subprocess.Popen) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    return proc.wait(timeout=30)


def test_demo_config_checks_and_runs_once(tmp_path):
    """The shipped demo, copied so the test never writes into the source tree."""
    shutil.copy(REPO / "config" / "demo.yaml", tmp_path / "demo.yaml")
    shutil.copytree(REPO / "config" / "demo-probes", tmp_path / "demo-probes")
    check = netmon("check", "-c", str(tmp_path / "demo.yaml"))
    assert check.returncode == 0, check.stderr
    assert "demo-lai-chau" in check.stdout
    run = netmon("run", "-c", str(tmp_path / "demo.yaml"), "--once")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(tmp_path / ".demo-state" / "netmon.db") as conn:
        rows = conn.execute("SELECT device_id, check_name, status FROM results").fetchall()
        devices = conn.execute("SELECT count(*) FROM devices").fetchone()[0]
    assert len(rows) == devices == 9  # one result per check (each demo device has one check)
    assert {s for _, _, s in rows} == {"ok"}
    assert all(host.startswith("127.") for (host,) in sqlite3.connect(
        tmp_path / ".demo-state" / "netmon.db").execute("SELECT host FROM devices"))
    status = netmon("status", "--once", "--lang", "en", "-c", str(tmp_path / "demo.yaml"))
    assert status.returncode == 0, status.stderr
    assert "has not run yet" not in status.stdout  # the one-shot round is the agent's last round
    assert "9 targets" in status.stdout and "last round" in status.stdout


def test_broken_config_exits_2_and_names_the_problem(tmp_path):
    config = write_config(tmp_path, 3)
    config.write_text(config.read_text().replace("host: 127.30.0.2", "host: 127.30.0.300"))
    result = netmon("run", "-c", str(config))
    assert result.returncode == 2
    assert "'127.30.0.300' is not an IP address or host name" in result.stderr
    assert not (tmp_path / "state" / "netmon.db").exists()


def test_rounds_over_hundreds_of_targets_all_land(tmp_path):
    config = write_config(tmp_path, 300, interval="2s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(stored(config)) >= 900, 30, "three rounds of 300 targets")
    finally:
        assert stop(proc) == 0, log.read_text()
    rows = stored(config)
    per_device: dict[str, int] = {}
    for device, status in rows:
        assert status == "ok", (device, status)
        per_device[device] = per_device.get(device, 0) + 1
    assert len(per_device) == 300
    assert min(per_device.values()) >= 2


def test_sigterm_commits_every_result(tmp_path):
    config = write_config(tmp_path, 50, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    wait_for(lambda: len(stored(config)) >= 100, 20, "first results")
    assert stop(proc) == 0
    text = log.read_text()
    committed = int(text.split("stopped; ")[1].split(" results")[0])
    assert committed == len(stored(config)) and committed >= 100


def test_sighup_with_broken_file_keeps_running_config(tmp_path):
    config = write_config(tmp_path, 20, interval="1s")
    log = tmp_path / "daemon.log"
    proc = start_daemon(config, log)
    try:
        wait_for(lambda: len(stored(config)) >= 20, 20, "first round")
        good = config.read_text()
        config.write_text(good.replace("kind: fastping", "kind: fastpign", 1))
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reload rejected" in log.read_text(), 10, "the reload to be rejected")
        assert "'fastpign'" in log.read_text() and "did you mean 'fastping'?" in log.read_text()
        count = len(stored(config))
        wait_for(lambda: len(stored(config)) >= count + 20, 10, "probing to go on with the old config")
        assert proc.poll() is None
        # A valid new config is adopted: other targets appear.
        write_config(tmp_path, 5, interval="1s", first_octet=31)
        proc.send_signal(signal.SIGHUP)
        wait_for(lambda: "reloaded" in log.read_text(), 10, "the reload")
        wait_for(lambda: any(d.endswith("/cpe-4") for d, _ in stored(config)), 10, "new devices' results")
    finally:
        assert stop(proc) == 0, log.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to create a network namespace")
def test_no_icmp_permission_is_one_clear_error(tmp_path):
    """In a namespace where ping sockets are not allowed and without CAP_NET_RAW, start-up fails clearly."""
    ns = f"nmtest-perm-{os.getpid()}"
    config = write_config(tmp_path, 1)
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv4.ping_group_range=1 0"], check=True)
        # Still root (the interpreter lives under /root), but without CAP_NET_RAW; gid 0 is
        # outside the namespace's ping_group_range, so neither kind of ICMP socket opens.
        cmd = ["ip", "netns", "exec", ns, "setpriv", "--inh-caps=-net_raw", "--bounding-set=-net_raw",
               sys.executable, "-m", "netmon", "run", "--once", "-c", str(config)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, cwd=REPO)
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
    assert result.returncode == 1, result.stderr
    assert "ping_group_range" in result.stderr and "CAP_NET_RAW" in result.stderr
