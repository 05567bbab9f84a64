#!/usr/bin/env bash
# Check a systemd unit with `systemd-analyze verify`; any warning counts as a failure.
# The unit's ExecStart names /opt/netmon/venv/bin/netmon, which exists only on a real install, so a
# copy is checked with that prefix pointed at $VENV (the venv scripts/test.sh just installed into).
# Usage: VENV=/path/to/venv bash scripts/verify-unit.sh deploy/netmon.service
set -euo pipefail
unit=${1:?usage: verify-unit.sh UNIT_FILE}
if ! command -v systemd-analyze >/dev/null; then
    echo "netmon: systemd-analyze is missing (Debian package: systemd); cannot verify $unit" >&2
    exit 1
fi
venv=${VENV:?set VENV to a venv holding bin/netmon}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sed "s#/opt/netmon/venv/#${venv%/}/#g" "$unit" > "$tmp/$(basename "$unit")"
printf '+ systemd-analyze verify %s   (ExecStart pointed at %s)\n' "$unit" "$venv/bin/netmon" >&2
if ! out=$(systemd-analyze verify "$tmp/$(basename "$unit")" 2>&1); then
    printf '%s\n' "$out" >&2
    echo "netmon: systemd-analyze verify failed for $unit" >&2
    exit 1
fi
if [ -n "$out" ]; then
    printf '%s\n' "$out" >&2
    echo "netmon: systemd-analyze verify warned about $unit (warnings fail this check)" >&2
    exit 1
fi
echo "systemd-analyze verify: $unit OK"
