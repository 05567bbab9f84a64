"""`lab up` / `lab down` / `lab status`: build the virtual province, and remove every trace of it.

`up` records each namespace in the state file *before* creating it and rolls everything back if
any step fails. `down` is idempotent and works from three sources, so a crash at any point
leaves nothing behind: the state file (recorded PIDs), the supervisor's file (snmpd it
restarted), and the fixed name prefix (`nmlab-<name>-`) of the namespaces themselves; a
process still inside one of those namespaces is stopped by the PID `ip netns pids` reports.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import netmon
from netmon.i18n import _
from netmon.lab import configgen, netns, snmpd
from netmon.lab.netns import LabError
from netmon.lab.plan import PREFIX, LabPlan, build_plan, ns_prefix
from netmon.lab.scenario import Scenario, load_scenario
from netmon.lab.state import LAB_ROOT, LabState, Proc, read_json, stop, track
from netmon.lab.trouble import TICK_S, desired, nft_ruleset

log = logging.getLogger("netmon.lab")

_OWNED_DIRS = ("snmpd", "probes", "state")


def require_root() -> None:
    """Refuse clearly unless we are root on Linux with iproute2 and nft."""
    if not sys.platform.startswith("linux"):
        raise LabError(_("the lab needs Linux network namespaces; use `netmon run -c config/demo.yaml` "
                         "for the loopback demo"))
    if os.geteuid() != 0:
        raise LabError(_("the lab creates network namespaces and needs root; run it with sudo, or use "
                         "`netmon run -c config/demo.yaml` for the loopback demo"))
    for tool in ("ip", "nft"):
        if shutil.which(tool) is None:
            raise LabError(_("{tool} not found; apt-get install iproute2 nftables").format(tool=tool))


def _netns_lines(plan: LabPlan) -> dict[str, list[str]]:
    """Per namespace: `ip -batch` lines for addresses, link state and routes."""
    lines: dict[str, list[str]] = {ns: [] for ns in plan.namespaces}
    for dev in plan.devices:
        lines[dev.ns].append(f"addr add {dev.address}/32 dev lo")
    for lk in plan.links:
        lines[lk.up_ns] += [f"addr add {lk.up_addr}/30 dev {lk.up_if}", f"link set dev {lk.up_if} up"]
        lines[lk.down_ns] += [f"addr add {lk.down_addr}/30 dev {lk.down_if}", f"link set dev {lk.down_if} up"]
    for lk in plan.links:
        lines[lk.up_ns] += [f"route replace {p} via {lk.down_addr} dev {lk.up_if}" for p in lk.up_routes]
        lines[lk.down_ns] += [f"route replace {p} via {lk.up_addr} dev {lk.down_if}" for p in lk.down_routes]
    return lines


def _network(plan: LabPlan, state: LabState) -> None:
    for ns in plan.namespaces:
        state.namespaces.append(ns)
        state.save()
        netns.add(ns)
    # Unprivileged ICMP for the daemon; the sysctl is per network namespace, so set it in the agent's.
    try:
        netns.sysctl(plan.agent_ns, "net.ipv4.ping_group_range", "0 2147483647")
    except LabError:
        # In a user namespace (the rootless demo) only mapped groups exist and the range is
        # refused; the daemon runs there as the namespace's root, with raw sockets instead.
        if not netns.in_user_namespace():
            raise
    for ns in plan.routers:
        netns.sysctl(ns, "net.ipv4.ip_forward", "1")
    netns.ip_batch(None, [f"link add {lk.up_if} netns {lk.up_ns} type veth peer name {lk.down_if} netns {lk.down_ns}"
                          for lk in plan.links])
    for ns, lines in _netns_lines(plan).items():
        netns.ip_batch(ns, lines)
    for ns in plan.namespaces[1:]:
        netns.nft(ns, nft_ruleset({}))


def _location(scn: Scenario, commune: int, village: int | None) -> str:
    com = scn.communes[commune]
    return com.name if village is None else f"{com.name} / {com.villages[village].name}"


def _snmpds(plan: LabPlan, scn: Scenario, state: LabState, run_dir: Path) -> None:
    started = []
    for dev in plan.devices:
        if dev.snmp == "none":
            continue
        snmpd.write_config(run_dir, plan.name, scn, dev, _location(scn, dev.commune, dev.village))
        proc = snmpd.start(run_dir, dev, state.snmpd)
        state.procs.append(proc)
        started.append((dev, proc))
    state.save()
    snmpd.wait_ready(run_dir, started)


def python_env() -> dict[str, str]:
    """Environment for child Pythons, so `-m netmon...` works from any working directory."""
    root = str(Path(netmon.__file__).resolve().parent.parent)
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{root}{os.pathsep}{path}" if path else root}


def _supervisor(state: LabState, run_dir: Path) -> None:
    with open(run_dir / "supervisor.log", "ab") as out:
        child = subprocess.Popen([sys.executable, "-m", "netmon.lab.trouble", state.name], env=python_env(),
                                 stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                 start_new_session=True, cwd=run_dir)
    state.procs.insert(0, track(child.pid, "supervisor"))
    state.save()


def _prepare_run_dir(run_dir: Path, scenario: Path) -> None:
    run_dir.mkdir(parents=True, exist_ok=True)
    for sub in _OWNED_DIRS:
        shutil.rmtree(run_dir / sub, ignore_errors=True)
    (run_dir / "supervisor.json").unlink(missing_ok=True)
    shutil.copyfile(scenario, run_dir / "scenario.yaml")


def up(scenario: str | Path, name: str = "lab", run_dir: str | Path | None = None,
       lifetime_s: float | None = None, snmpd_path: str = "snmpd") -> LabState:
    """Build lab `name` from a scenario file; on any failure remove what was built and re-raise."""
    require_root()
    scn = load_scenario(scenario)
    plan = build_plan(scn, name)
    if shutil.which(snmpd_path) is None:
        raise LabError(_("{path} not found; apt-get install snmpd").format(path=snmpd_path))
    if LabState.load(name) is not None or netns.namespaces(ns_prefix(name)):
        raise LabError(_("lab '{name}' is already up (or left over); run `netmon lab down {name}` first").format(
            name=name))
    folder = Path(run_dir) if run_dir else LAB_ROOT / name
    _prepare_run_dir(folder, Path(scenario))
    state = LabState(name, str(folder.resolve()), scenario=str(Path(scenario).resolve()), snmpd=snmpd_path,
                     lifetime_s=lifetime_s or scn.lifetime, agent_ns=plan.agent_ns)
    state.save()
    try:
        _network(plan, state)
        _snmpds(plan, scn, state, folder)
        configgen.write_profiles(folder / "probes", scn)
        config = folder / "netmon.yaml"
        config.write_text(configgen.dump_yaml(configgen.netmon_config(plan, scn, folder)), encoding="utf-8")
        state.config, state.t0 = str(config), time.time()
        state.save()
        _supervisor(state, folder)
        truth = configgen.ground_truth(plan, scn, state.t0, state.lifetime_s, config)
        (folder / "ground-truth.json").write_text(json.dumps(truth, indent=1, ensure_ascii=False), encoding="utf-8")
        state.phase = "up"
        state.save()
    except BaseException as exc:
        log.error("lab up failed (%s); removing what was built", exc)
        down(name)
        raise
    return state


def _stop_recorded(state: LabState | None, actions: list[str]) -> None:
    if state is None:
        return
    # Supervisor first, so it cannot restart an snmpd behind our back.
    ordered = sorted(state.procs, key=lambda p: p.role != "supervisor")
    extra = read_json(Path(state.run_dir) / "supervisor.json") if state.run_dir else None
    for proc in ordered:
        if stop(proc):
            actions.append(_("stopped {role} {key} (pid {pid})").format(role=proc.role, key=proc.key, pid=proc.pid)
                           .replace("  ", " "))
    if isinstance(extra, dict):
        for raw in extra.get("snmpd", []):
            proc = Proc(**raw)
            if stop(proc):
                actions.append(_("stopped snmpd {key} (pid {pid}, restarted by the supervisor)").format(
                    key=proc.key, pid=proc.pid))


def _remove_namespaces(names: list[str], actions: list[str]) -> None:
    for ns in names:
        if not netns.exists(ns):
            continue
        for pid in netns.pids(ns):
            if stop(track(pid, "leftover")):
                actions.append(_("stopped leftover process {pid} in {namespace}").format(pid=pid, namespace=ns))
        netns.delete(ns)
        actions.append(_("deleted namespace {namespace} (with its veths and nft table)").format(namespace=ns))


def down(name: str, purge: bool = False) -> list[str]:
    """Remove lab `name` completely; safe to repeat; returns what it did."""
    require_root()
    actions: list[str] = []
    state = LabState.load(name)
    _stop_recorded(state, actions)
    names = sorted(set(netns.namespaces(ns_prefix(name))) | set(state.namespaces if state else []))
    agent = f"{ns_prefix(name)}agent"
    # The agent namespace goes first: a supervisor whose PID was lost with the state file exits
    # at its next tick once it is gone, before it can restart an snmpd elsewhere.
    _remove_namespaces([agent], actions)
    if state is None and names:
        time.sleep(3 * TICK_S)
    _remove_namespaces([n for n in names if n != agent], actions)
    for argv in netns.root_leftovers():
        netns.run(argv)
        actions.append(_("removed root-namespace leftover: {command}").format(command=" ".join(argv[:4])))
    left = netns.namespaces(ns_prefix(name))
    if left:
        raise LabError(_("namespaces still present after down: {names}").format(names=", ".join(left)))
    LabState.path_for(name).unlink(missing_ok=True)
    if purge and state is not None and (Path(state.run_dir) / "scenario.yaml").exists():
        shutil.rmtree(state.run_dir, ignore_errors=True)
        actions.append(_("removed {path}").format(path=state.run_dir))
    return actions


def all_labs() -> list[str]:
    """Names of every lab with a state file or a namespace left on this machine."""
    names = {p.stem for p in LAB_ROOT.glob("*.json")}
    names |= {ns[len(PREFIX):].split("-")[0] for ns in netns.namespaces(PREFIX)}
    return sorted(names)


def status(name: str) -> dict[str, Any]:
    """What is running for lab `name`, and which trouble is active now."""
    state = LabState.load(name)
    present = netns.namespaces(ns_prefix(name))
    if state is None:
        return {"name": name, "phase": "down" if not present else "leftover", "namespaces": present}
    procs = list(state.procs)
    extra = read_json(Path(state.run_dir) / "supervisor.json")
    if isinstance(extra, dict):
        procs += [Proc(**p) for p in extra.get("snmpd", [])]
    elapsed = time.time() - state.t0 if state.t0 else 0.0
    active: list[str] = []
    if state.phase == "up":
        scn = load_scenario(Path(state.run_dir) / "scenario.yaml")
        want = desired(build_plan(scn, name), scn, elapsed)
        active = sorted(want.links_down) + [f"snmpd off {k}" for k in sorted(want.snmpd_off)]
        active += [f"loss in {ns}" for ns, rules in sorted(want.loss.items()) if rules]
    return {"name": name, "phase": state.phase, "run_dir": state.run_dir, "config": state.config,
            "agent_ns": state.agent_ns, "elapsed_s": round(elapsed, 1), "lifetime_s": state.lifetime_s,
            "namespaces": present, "namespaces_missing": sorted(set(state.namespaces) - set(present)),
            "supervisor": any(p.role == "supervisor" and p.alive() for p in procs),
            "snmpd_running": sum(1 for p in procs if p.role == "snmpd" and p.alive()), "active": active}
