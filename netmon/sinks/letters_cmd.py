"""`netmon deadletters list | replay`: see the points an output set aside, and send them again.

`list` reads the store (read-only when the table is current). `replay` sends letters through
the same path as the daemon (canary first, refused points retried once), marks the accepted
ones replayed and records the server's new answer on the others. By default it replays what
was refused for a transient reason; `--all` adds data refusals (after someone fixed the
database, e.g. dropped a conflicting field), `--id` picks letters by number. It gives up on an
output that does not answer instead of retrying forever. Exit code: 0 when everything selected
got through (or nothing was selected), 1 otherwise.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from typing import Any

from rich.console import Console, Group
from rich.text import Text

from netmon.sinks import deadletters
from netmon.sinks.deadletters import Letter
from netmon.store import Store


def run_deadletters(config: Any, args: Any, console: Console) -> int:
    """Entry of `netmon deadletters`."""
    ids = parse_ids(args.id or [])
    if args.action == "list":
        return _list(config, args, ids, console)
    return _replay(config, args, ids, console)


def parse_ids(values: list[str]) -> list[int]:
    """`--id 3 --id 5,7` -> [3, 5, 7]; a clear error for anything else."""
    ids = []
    for value in values:
        for part in str(value).split(","):
            if part.strip():
                if not part.strip().isdigit():
                    raise SystemExit(f"netmon deadletters: --id takes letter numbers, not {part.strip()!r}")
                ids.append(int(part))
    return ids


def _open_current(config: Any, readonly: bool) -> Store:
    store = Store.open(config.state_dir, readonly=readonly)
    if not readonly:
        deadletters.ensure_schema(store)
    return store


def _list(config: Any, args: Any, ids: list[int], console: Console) -> int:
    store = _open_current(config, readonly=True)
    try:
        try:
            found = deadletters.letters(store, args.output, ids, pending_only=not args.all, limit=args.limit)
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                found = []
            else:  # written by an older agent: add the new columns, then read
                store.close()
                store = _open_current(config, readonly=False)
                found = deadletters.letters(store, args.output, ids, pending_only=not args.all, limit=args.limit)
    finally:
        store.close()
    if args.format == "json":
        console.print_json(json.dumps([x.as_dict() for x in found], ensure_ascii=False))
        return 0
    if not found:
        console.print("no dead letters" + ("" if args.all else " waiting (--all shows replayed ones too)"))
        return 0
    console.print(letters_table(found, time.time()))
    console.print(f"{len(found)} letter(s); `netmon deadletters replay` sends transient ones again")
    return 0


def letters_table(found: list[Letter], now: float) -> Group:
    """Three lines per letter (fits an 80-column terminal): what, the server's words, the point."""
    parts = []
    for x in found:
        state = "replayed" if x.replayed_ts else ("retry in " + _age(x.next_ts - now) if x.kind == "transient"
                                                   and x.next_ts > now else "")
        head = Text(f"#{x.id}  {x.output}  ", style="bold")
        head.append(x.kind + (f" ({state})" if state else ""),
                    style="green" if x.replayed_ts else ("yellow" if x.kind == "transient" else "red"))
        head.append(f"  set aside {_age(now - x.created_ts)} ago  tries {x.attempts}  result #{x.seq}")
        said = Text("    " + (f"HTTP {x.status}: " if x.status else "") + x.message[:300])
        point = Text("    " + x.line[:400], style="dim", no_wrap=True, overflow="ellipsis")
        parts += [head, said, point]
    return Group(*parts)


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 7200:
        return f"{seconds // 60} min"
    if seconds < 172800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def _replay(config: Any, args: Any, ids: list[int], console: Console) -> int:
    from netmon.sinks.batches import TagResolver
    from netmon.sinks.influx import Forwarder

    outputs = {o.name: o for o in config.settings.outputs.influxdb}
    if args.output and args.output not in outputs:
        raise SystemExit(f"netmon deadletters: no output named {args.output!r} in the config"
                         f" (outputs: {', '.join(outputs) or 'none'})")
    kinds = [] if ids or args.all else [deadletters.TRANSIENT]
    store = _open_current(config, readonly=False)
    resolver = TagResolver(config.settings.agent.name, config.all_devices)
    failed = False
    try:
        found = deadletters.letters(store, args.output, ids, kinds=kinds)
        if not found:
            console.print("nothing to replay" + ("" if ids or args.all else
                                                 " (only transient refusals by default; --all adds data ones)"))
            return 0
        by_output: dict[str, list[Letter]] = {}
        for x in found:
            by_output.setdefault(x.output, []).append(x)
        for name, chosen in by_output.items():
            sendable = [x for x in chosen if x.kind != deadletters.UNDECODABLE]
            if len(sendable) < len(chosen):
                console.print(f"{name}: {len(chosen) - len(sendable)} unreadable stored rows cannot be sent")
                failed = True
            if name not in outputs:
                console.print(f"{name}: not an output in this config; {len(sendable)} letters left as they are")
                failed = True
                continue
            if not sendable:
                continue
            accepted, again, why = asyncio.run(_send(Forwarder(outputs[name], store, resolver, patient=False),
                                                     sendable))
            left = len(sendable) - accepted - again
            console.print(f"{name}: {accepted} of {len(sendable)} accepted, {again} refused again"
                          + (f", {left} not tried ({why})" if left else ""))
            failed = failed or accepted < len(sendable)
    finally:
        store.close()
    return 1 if failed else 0


async def _send(forwarder: Any, chosen: list[Letter]) -> tuple[int, int, str]:
    try:
        return await forwarder.replay(chosen)
    finally:
        await forwarder.transport.close()
        forwarder.reader.close()
