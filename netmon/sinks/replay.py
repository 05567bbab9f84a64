"""Sending dead letters again, through the forwarder's own path (canary, second try per point).

Used by the forwarder while its output is healthy (transient letters that are due) and by
`netmon deadletters replay` (any letters chosen, giving up at the first outage).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from netmon.i18n import _
from netmon.sinks import deadletters

if TYPE_CHECKING:
    from netmon.sinks.influx import Forwarder

log = logging.getLogger("netmon.sinks.influx")


async def replay_letters(forwarder: Forwarder, letters: Sequence[deadletters.Letter]) -> tuple[int, int, str]:
    """Send letters again: (accepted, refused again, why it stopped early or '')."""
    from netmon.sinks.influx import Halt

    store, size = forwarder.store, forwarder.output.batch_size
    accepted = refused_again = 0
    for start in range(0, len(letters), size):
        chunk = [x for x in letters[start:start + size] if x.kind != deadletters.UNDECODABLE]
        if not chunk:
            continue
        try:
            refused = await forwarder.settle([x.line.encode() for x in chunk])
        except Halt as halt:
            return accepted, refused_again, _("stopped: {reason}").format(
                reason=halt.answer.message or halt.answer.status)
        if refused is None:
            return accepted, refused_again, _("stopped")
        bad = dict(refused)
        with store.transaction():
            deadletters.mark_replayed(store, [x.id for i, x in enumerate(chunk) if i not in bad])
            for index, answer in bad.items():
                deadletters.mark_refused(store, chunk[index], answer.status, answer.message,
                                         forwarder.first_replay_s)
        accepted += len(chunk) - len(bad)
        refused_again += len(bad)
    forwarder.replayed_points += accepted
    return accepted, refused_again, ""


async def replay_due(forwarder: Forwarder, now: float) -> None:
    """Send the forwarder's transient letters that are due; one log line when some came back."""
    name, store = forwarder.name, forwarder.store
    due = deadletters.letters(store, name, kinds=[deadletters.TRANSIENT], due_before=now,
                              limit=forwarder.output.batch_size * 10)
    if not due:
        return
    accepted, again, _why = await replay_letters(forwarder, due)
    log.log(logging.INFO if accepted else logging.DEBUG, "output %s: replayed %d of %d points set aside earlier"
            " for a transient reason (%d refused again, retried later)", name, accepted, len(due), again)
    if accepted:
        forwarder.health.publish(dead_letters_pending=deadletters.pending_count(store, name))
