"""The lab without root: the same namespaces, inside a user namespace of the calling user.

`unshare --user --map-root-user --mount --net --pid` gives a process tree in which an ordinary
user is root of namespaces of its own: it may create network namespaces, veths and nft tables
and run snmpd there, none of which can touch the host's network. A private tmpfs over /run
holds /run/netns and the lab's state; the run folder (config, store, logs) stays on the user's
disk, so `netmon status` in another terminal reads the store as usual. When the demo ends,
its pid namespace ends, and with it every process, namespace and mount it made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Sequence

from netmon.i18n import _
from netmon.lab.netns import in_user_namespace

INSIDE_ENV = "NETMON_ROOTLESS_INSIDE"
_UNSHARE = ["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "--kill-child",
            "--mount-proc", "--propagation", "private"]


def inside() -> bool:
    """True in the process tree `reexec` started (root of a user namespace, /run not yet private)."""
    return os.environ.get(INSIDE_ENV) == "1" and in_user_namespace()


def unavailable() -> str | None:
    """Why a user namespace cannot be had here (None: it can)."""
    if not sys.platform.startswith("linux"):
        return _("user namespaces need Linux")
    if shutil.which("unshare") is None:
        return _("unshare is missing (Debian package util-linux)")
    try:
        probe = subprocess.run([*_UNSHARE, "true"], capture_output=True, text=True, timeout=20, check=False)
    except subprocess.TimeoutExpired:
        return _("unshare did not answer within 20 s")
    if probe.returncode != 0:
        return _("this system refuses user namespaces to ordinary users ({error}); on Ubuntu 24.04 see "
                 "kernel.apparmor_restrict_unprivileged_userns, elsewhere user.max_user_namespaces").format(
                     error=probe.stderr.strip())
    return None


def reexec(argv: Sequence[str], env: dict[str, str]) -> int:
    """Run `netmon demo ARGV` again inside a new user, mount, network and pid namespace."""
    proc = subprocess.Popen([*_UNSHARE, "--", sys.executable, "-m", "netmon", "demo", *argv],
                            env={**env, INSIDE_ENV: "1"})
    try:
        return proc.wait()
    except KeyboardInterrupt:
        # The same Ctrl-C reached the demo inside, which is taking the lab down; let it finish.
        try:
            return proc.wait(timeout=60)
        except (KeyboardInterrupt, subprocess.TimeoutExpired):
            proc.kill()  # --kill-child: the pid namespace, and everything in it, ends with unshare
            return proc.wait()


def private_run() -> None:
    """Give this namespace its own /run, for /run/netns and the lab state (the host's stays untouched)."""
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=0755", "netmon-demo", "/run"], check=True,
                   capture_output=True, text=True, timeout=20)
