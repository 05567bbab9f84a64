#!/usr/bin/env bash
# Install netmon into a venv (made with the system's own python3) and run the demo: a small
# virtual province in network namespaces where, within two minutes, villages are flagged for
# link loss (with their operator), a power cut and an upstream outage; the live view shows it.
# As root it installs the Debian packages itself and builds the lab in real namespaces; as a
# normal user, run once:  sudo apt-get install -y python3-venv snmpd nftables iproute2
# and the lab runs in a user namespace of your own (no root at run time).
# NETMON_VENV (default: .venv in the checkout) and NETMON_DEMO_DIR (default: .demo-lab in the
# checkout: the lab's config, store and logs) choose where; extra arguments go to `netmon demo`.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=${NETMON_VENV:-$REPO/.venv}
DEMO_DIR=${NETMON_DEMO_DIR:-$REPO/.demo-lab}
# shellcheck source=install-lib.sh
. scripts/install-lib.sh
unset PYTHONPATH PYTHONHOME

# snmpd: one SNMP agent per virtual device; nftables/iproute2: the virtual links and their trouble.
apt_install python3 python3-venv snmpd nftables iproute2
[ -x "$VENV/bin/pip" ] || fresh_venv "$VENV"
say "installing netmon from $REPO into $VENV"
show "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$REPO"
rm -rf "$REPO/build" "$REPO"/*.egg-info
say "the demo (Ctrl-C ends it and removes everything it built)"
cat >&2 <<MSG
In another terminal, once it runs:
  $VENV/bin/netmon status -c $DEMO_DIR/netmon.yaml
  $VENV/bin/netmon report villages --format md -c $DEMO_DIR/netmon.yaml
MSG
exec "$VENV/bin/netmon" demo --run-dir "$DEMO_DIR" "$@"
