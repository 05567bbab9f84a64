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

from netmon.i18n import N_, _, localise
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
                    raise SystemExit(_("netmon deadletters: --id takes letter numbers, not {value}").format(
                        value=repr(part.strip())))
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
        console.print(_("no dead letters") if args.all else
                      _("no dead letters waiting (--all shows replayed ones too)"))
        return 0
    console.print(letters_table(found, time.time()))
    console.print(_("{n} letter(s); `netmon deadletters replay` sends transient ones again").format(n=len(found)))
    return 0


def letters_table(found: list[Letter], now: float) -> Group:
    """Three lines per letter (fits an 80-column terminal): what, the server's words, the point."""
    parts = []
    for x in found:
        state = _("replayed") if x.replayed_ts else (_("retry in {age}").format(age=_age(x.next_ts - now))
                                                     if x.kind == "transient" and x.next_ts > now else "")
        head = Text(f"#{x.id}  {x.output}  ", style="bold")
        kind = _(_KINDS[x.kind]) if x.kind in _KINDS else x.kind
        head.append(kind + (f" ({state})" if state else ""),
                    style="green" if x.replayed_ts else ("yellow" if x.kind == "transient" else "red"))
        head.append(_("  set aside {age} ago  tries {tries}  result #{seq}").format(
            age=_age(now - x.created_ts), tries=x.attempts, seq=x.seq))
        said = Text("    " + (f"HTTP {x.status}: " if x.status else "") + x.message[:300])
        point = Text("    " + x.line[:400], style="dim", no_wrap=True, overflow="ellipsis")
        parts += [head, said, point]
    return Group(*parts)


_KINDS = {"transient": N_("transient"), "data": N_("data"), "undecodable": N_("undecodable")}
"""A letter's kind as shown (the stored and JSON value stays English)."""


def _age(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 120:
        return _("{n} s").format(n=seconds)
    if seconds < 7200:
        return _("{n} min").format(n=seconds // 60)
    if seconds < 172800:
        return _("{n} h").format(n=localise(f"{seconds / 3600:.1f}"))
    return _("{n} d").format(n=localise(f"{seconds / 86400:.1f}"))


def _replay(config: Any, args: Any, ids: list[int], console: Console) -> int:
    from netmon.sinks.batches import TagResolver
    from netmon.sinks.influx import Forwarder

    outputs = {o.name: o for o in config.settings.outputs.influxdb}
    if args.output and args.output not in outputs:
        raise SystemExit(_("netmon deadletters: no output named {name} in the config (outputs: {outputs})").format(
            name=repr(args.output), outputs=", ".join(outputs) or _("none")))
    kinds = [] if ids or args.all else [deadletters.TRANSIENT]
    store = _open_current(config, readonly=False)
    resolver = TagResolver(config.settings.agent.name, config.device_by_id)
    failed = False
    try:
        found = deadletters.letters(store, args.output, ids, kinds=kinds)
        if not found:
            console.print(_("nothing to replay") if ids or args.all else
                          _("nothing to replay (only transient refusals by default; --all adds data ones)"))
            return 0
        by_output: dict[str, list[Letter]] = {}
        for x in found:
            by_output.setdefault(x.output, []).append(x)
        for name, chosen in by_output.items():
            sendable = [x for x in chosen if x.kind != deadletters.UNDECODABLE]
            if len(sendable) < len(chosen):
                console.print(_("{output}: {n} unreadable stored rows cannot be sent").format(
                    output=name, n=len(chosen) - len(sendable)))
                failed = True
            if name not in outputs:
                console.print(_("{output}: not an output in this config; {n} letters left as they are").format(
                    output=name, n=len(sendable)))
                failed = True
                continue
            if not sendable:
                continue
            accepted, again, why = asyncio.run(_send(Forwarder(outputs[name], store, resolver, patient=False),
                                                     sendable))
            left = len(sendable) - accepted - again
            console.print(_("{output}: {accepted} of {n} accepted, {again} refused again").format(
                output=name, accepted=accepted, n=len(sendable), again=again)
                + (_(", {left} not tried ({why})").format(left=left, why=why) if left else ""))
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
