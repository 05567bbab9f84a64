#!/usr/bin/env bash
# Install netmon the way a user would and run the whole test suite with that install:
#   1. Debian packages: python3-venv, and the real components the tests use (snmpd, influxd, ...);
#   2. a fresh venv made with Debian's own /usr/bin/python3 (PEP 668 forbids installing into it);
#   3. the wheel, built from this checkout and installed NOT editable, with the test extras;
#   4. from a folder outside the checkout: netmon check / run --once / status --once / report
#      villages on the bundled demo, so only the installed package can answer;
#   5. systemd-analyze verify deploy/netmon.service;
#   6. the whole test suite with the venv's python (fails on any failure and when no test ran).
# Needs root (apt-get, network namespaces, raw ICMP). Usage: bash scripts/test.sh [pytest args]
# NETMON_VENV (default: .venv in the checkout) chooses the venv; NETMON_SKIP_SUITE=1 stops after step 5.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=${NETMON_VENV:-$REPO/.venv}
# shellcheck source=install-lib.sh
. scripts/install-lib.sh
unset PYTHONPATH PYTHONHOME PIP_REQUIRE_VIRTUALENV

say "1. Debian packages"
# python3/python3-venv: the Python users have; snmpd/snmp: real SNMP agents and net-snmp tools;
# influxdb: Debian's influxd 1.x for the output tests; fping: ICMP reference in benchmarks;
# nftables/iproute2: the lab; tmux: the interactive status-view test; prometheus-snmp-exporter:
# SNMP benchmark peer; systemd: systemd-analyze for the unit file.
apt_install python3 python3-venv ca-certificates \
    snmpd snmp influxdb influxdb-client fping nftables iproute2 tmux curl procps \
    prometheus-snmp-exporter systemd

say "2. a fresh venv with $(python_for_venv)"
fresh_venv "$VENV"

say "3. the wheel, installed not editable"
DIST=$(mktemp -d)
WORK=$(mktemp -d)
trap 'rm -rf "$DIST" "$WORK"' EXIT
WHEEL=$(build_wheel "$REPO" "$DIST" | tail -n 1)
show "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$WHEEL[test]"

say "4. the installed command, from $WORK (outside the checkout)"
cd "$WORK"
NETMON="$VENV/bin/netmon"
show "$VENV/bin/python" -c 'import netmon, sys; print(netmon.__file__); sys.exit(0 if "/site-packages/" in netmon.__file__ else 1)'
show "$NETMON" --version
DEMO=$(show "$NETMON" demo-config "$WORK/demo" | tail -n 1)
show "$NETMON" profiles -c "$DEMO"
show "$NETMON" check -c "$DEMO"
show "$NETMON" run --once -c "$DEMO"
show "$NETMON" status --once -c "$DEMO"
show "$NETMON" report villages -c "$DEMO"
cd "$REPO"

say "5. the systemd unit"
VENV="$VENV" bash scripts/verify-unit.sh deploy/netmon.service

if [ -n "${NETMON_SKIP_SUITE:-}" ]; then
    say "NETMON_SKIP_SUITE is set: the install is proven, the test suite was not run"
    exit 0
fi

say "6. the whole test suite with $VENV/bin/python"
export CI="${CI:-true}"
set +e
"$VENV/bin/python" -m pytest -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "netmon: pytest collected no test (exit 5); that is a failure, not a pass" >&2
    exit 1
fi
exit "$status"
