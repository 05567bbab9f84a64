"""Refuse to probe a lab's addresses from outside the lab's agent namespace (used by `run` and `probe`).

A lab config lists addresses (10.99.x.y) that exist only inside the lab's namespaces. Run
from the host's own namespace, its probes would follow the default route out of the machine.
The lab names its agent `nmlab-<lab>`; its agent namespace is `nmlab-<lab>-agent`.
"""

from __future__ import annotations

import os

from netmon.errors import LabError

LAB_AGENT_PREFIX = "nmlab-"


class OutsideLabError(LabError, RuntimeError):
    """A lab config was about to be probed from outside the lab's agent namespace."""


def check_lab_namespace(agent_name: str, netns_dir: str = "/run/netns") -> None:
    """Raise OutsideLabError unless this process runs inside the agent namespace of lab agent `agent_name`."""
    if not agent_name.startswith(LAB_AGENT_PREFIX):
        return
    namespace = f"{agent_name}-agent"
    try:
        inside = os.stat(f"{netns_dir}/{namespace}").st_ino == os.stat("/proc/self/ns/net").st_ino
    except OSError:
        inside = False
    if not inside:
        raise OutsideLabError(
            f"this is the config of lab agent {agent_name!r}: its addresses exist only inside the lab, and "
            f"probing them from here would send packets out of the machine. Run it inside the lab: "
            f"ip netns exec {namespace} netmon ... (is the lab up? netmon lab status)")
