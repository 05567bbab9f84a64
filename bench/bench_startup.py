"""Start-up: loading and validating a 20k-device inventory, in-process and as `netmon check`.

Generates a realistic config in a temporary folder: provinces (one included file each) ->
communes (router, two office PCs with SNMPv3 auth, the public-service portal by URL, the one-stop
system by TCP port) -> villages (CPE with SNMPv2c auth, BTS, camera, a plain ping target), with
Vietnamese names, operators, locations and parents. Every address is loopback and nothing is
probed: only the config is read. Then times:

- `netmon.config.load_config(FILE)` in this process (first call, and the best of the repeats);
- `python3 -m netmon check -c FILE` as a child process, wall time (interpreter start-up, imports,
  load, validation and the printed summary).

Goal (issue 10): a 20k-device inventory loads and validates in < 2 s.

    python3 bench/bench_startup.py --quick     # 20k devices, 1 repetition (< 30 s)
    python3 bench/bench_startup.py             # 20k devices, 5 repetitions
    python3 bench/bench_startup.py --devices 500 --no-append   # tiny, for the tests
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from netmon.config import load_config  # noqa: E402

PROVINCES = ["Lai Châu", "Điện Biên", "Sơn La", "Hà Giang", "Lào Cai", "Cao Bằng", "Yên Bái", "Lạng Sơn"]
COMMUNES = ["Sìn Hồ", "Mường Nhé", "Tả Phìn", "Nậm Tăm", "Phong Thổ", "Mù Cả", "Pa Tần", "Chung Chải",
            "Sì Lở Lầu", "Bản Lang", "Nậm Hàng", "Hua Bum"]
VILLAGES = ["Bản Tả Phìn", "Làng Mô", "Thôn Mù Sang", "Bản Nậm Kè", "Bản Đoàn Kết", "Bản Huổi Lếch",
            "Thôn Pắc Ta", "Bản Chợ Mới", "Bản Nà Hỳ", "Thôn Phìn Hồ"]
OPERATORS = ["VNPT", "Viettel", "MobiFone"]
VILLAGES_PER_COMMUNE = 20
PER_COMMUNE = 5 + VILLAGES_PER_COMMUNE * 4
ENV = {"NETMON_SNMP_COMMUNITY": "bench-community", "NETMON_SNMP_PRIV_KEY": "bench-priv-key-0123"}


def main_file(folder: Path, provinces: int) -> Path:
    """netmon.yaml: agent, auths (v2c from the environment, v3 with a key file), includes."""
    (folder / "keys").mkdir()
    (folder / "keys" / "auth.key").write_text("bench-auth-key-0123\n")
    text = f"""version: 1
agent: {{name: bench-startup, state_dir: state}}
auths:
  office-v2: {{version: 2c, community: "${{NETMON_SNMP_COMMUNITY}}"}}
  office-v3:
    version: 3
    user: netmon
    auth: {{protocol: sha256, key_file: keys/auth.key}}
    priv: {{protocol: aes, key: "${{NETMON_SNMP_PRIV_KEY}}"}}
inventory:
{"".join(f'  - include: inventory/p{p:02d}.yaml{chr(10)}' for p in range(provinces))}"""
    path = folder / "netmon.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def commune_lines(c: int, villages: int) -> list[str]:
    """One commune: office devices, then its villages' devices (loopback addresses, distinct)."""
    net = f"127.{1 + c // 256}.{c % 256}"
    op = OPERATORS[c % 3]
    lines = [f"  - name: Xã {COMMUNES[c % len(COMMUNES)]} {c}", f"    operator: {op}",
             f"    location: {{lat: {21.5 + (c % 97) * 0.01:.2f}, lon: {103.0 + (c % 89) * 0.01:.2f}}}",
             "    devices:",
             f"      - {{name: ubnd-router, kind: router, host: {net}.1, auth: office-v2}}",
             f"      - {{name: Máy tính một cửa 1, kind: pc, host: {net}.2, auth: office-v3, parent: ubnd-router}}",
             f"      - {{name: Máy tính kế toán, kind: pc, host: {net}.3, auth: office-v3, parent: ubnd-router}}",
             '      - {name: dichvucong, kind: service, url: "http://127.0.0.1:8080/dich-vu-cong"}',
             f"      - {{name: cổng một cửa, kind: port, host: {net}.4, port: 8443}}",
             "    villages:"]
    for v in range(villages):
        host = 10 + v * 4
        lines += [f"      - name: {VILLAGES[v % len(VILLAGES)]} {v}",
                  f"        operator: {OPERATORS[(c + v) % 3]}",
                  f"        location: {{lat: {21.5 + v * 0.003:.3f}, lon: {103.1 + v * 0.002:.3f}}}",
                  "        devices:",
                  f"          - {{name: cpe nhà văn hoá, kind: cpe, host: {net}.{host}, auth: office-v2, "
                  "parent: ubnd-router}",
                  f"          - {{name: bts-{v}, kind: bts, host: {net}.{host + 1}}}",
                  f"          - {{name: camera chợ, kind: camera, host: {net}.{host + 2}, parent: cpe nhà văn hoá}}",
                  f"          - {{name: trạm y tế, kind: ping, host: {net}.{host + 3}, parent: cpe nhà văn hoá}}"]
    return lines


def write_inventory(folder: Path, devices: int) -> tuple[Path, int]:
    """Generate the config for about `devices` devices; returns (main file, exact device count)."""
    communes = max(1, -(-devices // PER_COMMUNE))
    provinces = min(len(PROVINCES), max(1, communes // 20))
    path = main_file(folder, provinces)
    (folder / "inventory").mkdir()
    count = 0
    for p in range(provinces):
        lines = [f"name: {PROVINCES[p]}", f"operator: {OPERATORS[p % 3]}", "communes:"]
        for c in range(p, communes, provinces):
            lines += commune_lines(c, VILLAGES_PER_COMMUNE)
            count += PER_COMMUNE
        (folder / "inventory" / f"p{p:02d}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, count


def time_in_process(path: Path, repeats: int, expected: int) -> tuple[float, float]:
    """(first, best) seconds of load_config; checks the device count."""
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        config = load_config(path, environ=ENV)
        times.append(time.perf_counter() - t0)
        if len(config.all_devices) != expected:
            raise RuntimeError(f"loaded {len(config.all_devices)} devices, generated {expected}")
    return times[0], min(times)


def time_check(path: Path, repeats: int, expected: int) -> float:
    """Median wall seconds of `python3 -m netmon check -c FILE`; checks it succeeded."""
    times = []
    env = {**os.environ, **ENV}
    for _ in range(repeats):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "netmon", "check", "-c", str(path)], capture_output=True,
                              text=True, timeout=120, cwd=REPO, env=env)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0 or f"{expected:,}" not in done.stdout:
            raise RuntimeError(f"netmon check failed ({done.returncode}):\n{done.stdout[-1500:]}{done.stderr[-1500:]}")
    return statistics.median(times)


def verdict(count: int, first_s: float, check_s: float) -> str:
    """The goal line: judged only on an inventory of (about) 20k devices."""
    head = (f"Goal < 2 s for 20k devices: in-process {first_s:.2f} s (first call), "
            f"`netmon check` as a process {check_s:.2f} s")
    if count < 19_000:
        return f"{head} (at {count:,} devices: not judged)"
    both = "met for both" if max(first_s, check_s) < 2.0 else "met in-process only" if first_s < 2.0 else "NOT met"
    return f"{head} -> {both}"


def main() -> int:
    """Generate, time, print the table and append a dated block to BENCHMARKS.md."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="1 repetition")
    ap.add_argument("--devices", type=int, default=20_000, help="about this many devices (default 20,000)")
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--no-append", action="store_true", help="do not append to BENCHMARKS.md")
    args = ap.parse_args()
    reps = args.reps or (1 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        path, count = write_inventory(Path(tmp), args.devices)
        size_mb = sum(f.stat().st_size for f in Path(tmp).rglob("*.yaml")) / 1e6
        villages = count // PER_COMMUNE * VILLAGES_PER_COMMUNE
        first, best = time_in_process(path, max(reps, 2), count)
        check_s = time_check(path, reps, count)
    lines = ["| devices | villages | YAML MB | load_config first s | load_config best s | `netmon check` wall s |",
             "|---:|---:|---:|---:|---:|---:|",
             f"| {count:,} | {villages:,} | {size_mb:.1f} | {first:.2f} | {best:.2f} | {check_s:.2f} |", "",
             verdict(count, first, check_s)]
    print("\n".join(lines))
    if not args.no_append:
        command = "python3 " + " ".join(["bench/bench_startup.py", *sys.argv[1:]])
        stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
        load = os.getloadavg()
        block = [f"\n## Start-up, inventory load ({stamp})", "", f"Command: `{command}`", "",
                 f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average {load[0]:.2f}; "
                 f"{reps} repetition(s). Provinces in included files -> communes (router, 2 PCs with SNMPv3, "
                 "service URL, TCP port) -> villages (CPE with SNMPv2c, BTS, camera, ping).", "", *lines, ""]
        with (REPO / "BENCHMARKS.md").open("a", encoding="utf-8") as fh:
            fh.write("\n".join(block))
    return 0


if __name__ == "__main__":
    sys.exit(main())
