"""`netmon probe NAME|ID|HOST`: run a device's checks now and explain each result.

The command a technician runs on site after a repair: it probes with the same probers and
profile as the daemon (nothing is written to the store). It runs probers, so it lives in the
app layer; finding the device and rendering the results are the view's (netmon.ui.probe).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from rich.console import Console
from rich.text import Text

from netmon.i18n import _
from netmon.model import Device, ProbeResult
from netmon.probers import ProberContext, build_prober
from netmon.ui.probe import TargetError, find_device, show_results


async def probe_device(config: Any, device: Device) -> list[ProbeResult]:
    """Run every check of the device's profile once, in profile order, then close the probers."""
    context = ProberContext(auths=config.auths, scheduler=config.settings.scheduler,
                            config_dir=str(config.path.parent))
    probers: dict[str, Any] = {}
    results = []
    try:
        for check in config.profiles[device.profile].checks:
            if check.prober not in probers:
                probers[check.prober] = build_prober(check.prober, context)
            results.append(await probers[check.prober].probe(device, check))
    finally:
        for prober in probers.values():
            await prober.close()
    return results


def run_probe(config: Any, args: Any, console: Console) -> int:
    """Entry of `netmon probe`: 0 when every check is ok, 1 when one failed, 2 for a bad target."""
    try:
        device = find_device(config, args.target)
    except TargetError as exc:
        console.print(Text(f"netmon probe: {exc}"))
        return 2
    if device.profile not in config.profiles:
        console.print(Text(_("netmon probe: profile '{profile}' of {id} is not loaded").format(
            profile=device.profile, id=device.id)))
        return 2
    started = time.monotonic()
    results = asyncio.run(probe_device(config, device))
    elapsed_s = time.monotonic() - started
    show_results(config, device, results, elapsed_s, args.format, console)
    return 0 if all(r.up for r in results) else 1
