#!/usr/bin/env bash
# Install netmon with its test dependencies (Debian packages + pip) and run the whole test suite.
# Needs root (apt-get, network namespaces, raw ICMP). Usage: bash scripts/test.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
export DEBIAN_FRONTEND=noninteractive
if command -v apt-get >/dev/null; then
    apt-get update -qq
    # snmpd/snmp: real SNMP agents and net-snmp tools; influxdb: Debian's influxd 1.x for the
    # output tests; fping: ICMP reference in benchmarks; nftables/iproute2: the lab; tmux: the
    # interactive status-view test; prometheus-snmp-exporter: SNMP benchmark peer.
    apt-get install -y -qq --no-install-recommends \
        snmpd snmp influxdb influxdb-client fping nftables iproute2 tmux curl procps \
        prometheus-snmp-exporter >/dev/null
fi
python3 -m pip install -q --disable-pip-version-check -e '.[test]'
export CI="${CI:-true}"
python3 -m pytest -q "$@"
