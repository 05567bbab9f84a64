#!/usr/bin/env bash
# Install netmon into a venv (made with the system's own python3) and run the daemon on the bundled
# loopback demo. As root it installs python3-venv itself; as a normal user run once:
#   sudo apt-get install -y python3-venv
# NETMON_VENV (default: .venv in the checkout) and NETMON_DEMO_DIR (default: .demo in the checkout)
# choose where; extra arguments go to `netmon run` (e.g. --once).
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
VENV=${NETMON_VENV:-$REPO/.venv}
DEMO_DIR=${NETMON_DEMO_DIR:-$REPO/.demo}
# shellcheck source=install-lib.sh
. scripts/install-lib.sh
unset PYTHONPATH PYTHONHOME

if ! "$(python_for_venv)" -c 'import ensurepip, venv' 2>/dev/null; then
    apt_install python3 python3-venv
fi
[ -x "$VENV/bin/pip" ] || fresh_venv "$VENV"
say "installing netmon from $REPO into $VENV"
show "$VENV/bin/python" -m pip install -q --disable-pip-version-check "$REPO"
rm -rf "$REPO/build" "$REPO"/*.egg-info
CONFIG=$("$VENV/bin/netmon" demo-config "$DEMO_DIR")
say "the loopback demo: $CONFIG"
"$VENV/bin/netmon" check -c "$CONFIG"
cat >&2 <<MSG

Starting the daemon (Ctrl-C stops it; results are kept in $DEMO_DIR/.demo-state).
In another terminal, watch it:   $VENV/bin/netmon status -c $CONFIG
Afterwards, the follow-up list:  $VENV/bin/netmon report villages -c $CONFIG
MSG
exec "$VENV/bin/netmon" run -c "$CONFIG" "$@"
