"""Thin wrappers around `ip`, `nft` and `sysctl`, each run inside one named network namespace.

Everything the lab changes lives inside its own namespaces: veth pairs are created with both
ends directly in their namespaces (`ip link add A netns X type veth peer name B netns Y`), so
the root namespace never holds a lab interface, address, route or nft table, and deleting a
namespace takes its veths and nft tables with it.
"""

from __future__ import annotations

import enum
import logging
import os
import subprocess
from collections.abc import Sequence
from pathlib import Path

from netmon.errors import LabError
from netmon.i18n import _

log = logging.getLogger("netmon.lab")

NETNS_DIR = Path("/run/netns")
COMMAND_TIMEOUT_S = 20.0


class LinkState(enum.StrEnum):
    """Administrative state of a veth end."""

    UP = "up"
    DOWN = "down"


def run(args: Sequence[str], stdin: str | None = None) -> str:
    """Run a command, return its stdout; raise LabError with its stderr when it fails."""
    try:
        done = subprocess.run(list(args), input=stdin, capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT_S, check=False)
    except FileNotFoundError as exc:
        raise LabError(_("{command}: command not found; install it (apt-get install iproute2 nftables snmpd)")
                       .format(command=args[0])) from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(_("{command}: no answer after {seconds} s").format(
            command=" ".join(args), seconds=f"{COMMAND_TIMEOUT_S:.0f}")) from exc
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().replace("\n", " | ")
        raise LabError(f"{' '.join(args)}: " + (detail or _("exit status {code}").format(code=done.returncode)))
    return done.stdout


def ip_batch(ns: str | None, lines: Sequence[str]) -> None:
    """Apply many `ip` commands in one process (`ip -n NS -batch -`)."""
    if not lines:
        return
    head = ["ip", "-n", ns] if ns else ["ip"]
    run([*head, "-batch", "-"], stdin="\n".join(lines) + "\n")


def in_ns(ns: str, *args: str) -> list[str]:
    """The argv that runs `args` inside namespace `ns`."""
    return ["ip", "netns", "exec", ns, *args]


def namespaces(prefix: str) -> list[str]:
    """Named namespaces whose name starts with `prefix`."""
    try:
        names = os.listdir(NETNS_DIR)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(prefix))


def exists(ns: str) -> bool:
    """True when the named namespace exists."""
    return (NETNS_DIR / ns).exists()


def add(ns: str) -> None:
    """Create a namespace and bring its loopback up."""
    run(["ip", "netns", "add", ns])
    ip_batch(ns, ["link set lo up"])


def delete(ns: str) -> None:
    """Delete a namespace (its veths and nft tables go with it once no process is left inside)."""
    run(["ip", "netns", "delete", ns])


def pids(ns: str) -> list[int]:
    """PIDs of the processes running inside a namespace."""
    try:
        out = run(["ip", "netns", "pids", ns])
    except LabError as exc:
        log.warning("cannot list processes in %s: %s", ns, exc)
        return []
    return [int(p) for p in out.split() if p.isdigit()]


def in_user_namespace() -> bool:
    """True inside a user namespace that does not map every uid (e.g. `unshare --map-root-user`)."""
    try:
        lines = Path("/proc/self/uid_map").read_text().split("\n")
    except OSError:
        return False
    return [line.split() for line in lines if line.strip()] != [["0", "0", "4294967295"]]


def sysctl(ns: str, key: str, value: str) -> None:
    """Set a per-namespace sysctl (ip_forward, ping_group_range, ...)."""
    run(in_ns(ns, "sysctl", "-q", "-w", f"{key}={value}"))


def nft(ns: str, ruleset: str) -> None:
    """Load an nft ruleset inside a namespace."""
    run(in_ns(ns, "nft", "-f", "-"), stdin=ruleset)


def set_link(ns: str, ifname: str, state: LinkState) -> None:
    """Set one interface up or down."""
    ip_batch(ns, [f"link set dev {ifname} {state.value}"])


def root_leftovers(prefix: str = "nmlab") -> list[list[str]]:
    """Commands that remove root-namespace interfaces or nft tables named with the lab prefix.

    The lab never creates any (both veth ends are born inside namespaces); this is the safety
    net `down` uses in case an older version or a manual experiment did.
    """
    found = []
    for line in run(["ip", "-o", "link", "show"]).splitlines():
        parts = line.split(":")
        name = parts[1].strip().split("@")[0] if len(parts) > 1 else ""
        if name.startswith(prefix):
            found.append(["ip", "link", "delete", name])
    try:
        tables = run(["nft", "list", "tables"])
    except LabError as exc:
        log.warning("cannot list nft tables: %s", exc)
        tables = ""
    for line in tables.splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "table" and words[2].startswith(prefix):
            found.append(["nft", "delete", "table", words[1], words[2]])
    return found
