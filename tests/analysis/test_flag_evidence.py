"""Flags from noise, evidence behind every flag, and the `pending` cause (real SQLite store, real rollups)."""

from __future__ import annotations

import pytest

from netmon.analysis.confidence import Rate
from netmon.analysis.status import flags_since, latest_village_status, open_flags
from netmon.analysis.village_report import village_report
from netmon.config.schema import StabilityThresholds

from .helpers import ROUTER, T0, Rig, ping, rounds, router, snmp_uptime, village_device

NOISY, LOSSY, SETTLED, DARK = "noisy", "lossy", "settled", "dark"
VID = "lai-chau/sin-ho/{}".format


@pytest.fixture
def store(tmp_path):
    from netmon.store import Store

    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def feed_and_evaluate(rig: Rig, results, start: float, end: float, every: float = 60.0):
    results = sorted(results, key=lambda r: r.ts)
    rig.alive(start, end)
    history, i, now = [], 0, start + every
    while now <= end:
        j = i
        while j < len(results) and results[j].ts < now:
            j += 1
        rig.feed(results[i:j], now)
        i = j
        history.append((now, rig.evaluate(now)))
        now += every
    return history


def meets_threshold(evidence: dict, th: StabilityThresholds) -> bool:
    """Does stored evidence justify `unstable or down` on its own numbers?"""
    grounds = evidence.get("grounds") or []
    return bool(grounds) and all(any(w in g for w in (">", "<", "down for")) for g in grounds)


def test_two_percent_loss_over_short_windows_is_never_flagged(store):
    # 20-minute windows of one 3-packet round a minute (60 packets): 2 % loss sometimes measures 5 % or more.
    devices = [router(), village_device(NOISY), village_device(LOSSY, "MobiFone")]
    rig = Rig(store, devices, window_now=1200, window_trend=3600, rollup_bucket=60, settle=60,
              raise_after=2, clear_after=2)
    end = T0 + 8 * 3600
    results = (rounds(ROUTER, T0, end) + rounds(devices[1].id, T0, end, loss=0.02, seed=11)
               + rounds(devices[2].id, T0, end, loss=0.25, seed=12))
    history = feed_and_evaluate(rig, results, T0, end)
    windows = [ev[VID(NOISY)].windows["20m"][2] for _, ev in history]
    measured = [100 * (1 - m.received / m.sent) for m in windows if m.sent]
    assert max(measured) > 5.0  # the noise really crossed 5 % on its face...
    assert all(f.village_id != VID(NOISY) for f in flags_since(store, 0))  # ...and never raised a flag
    # The 25 % village is flagged at the same evaluation as the face-value rule would flag it.
    lossy = [ev[VID(LOSSY)].windows["20m"] for _, ev in history]
    face = [state.value != "unknown" and m.received < 0.95 * m.sent for state, _, m in lossy]
    face_raise = next(i for i in range(1, len(face)) if face[i] and face[i - 1])
    raised = [i for i, (_, ev) in enumerate(history) if ev[VID(LOSSY)].action.value == "raise"]
    assert raised == [face_raise]  # once, and no later than before: it stays flagged all along
    status = latest_village_status(store)[VID(NOISY)]
    assert "not enough evidence" in status.reason or status.state in ("good", "degraded")


def test_flag_clears_when_the_village_settles_at_degraded(store):
    devices = [router(), village_device(SETTLED)]
    rig = Rig(store, devices, window_now=1200, raise_after=2, clear_after=3)
    end = T0 + 4 * 3600
    # 30 % loss for an hour, then a persistent 3 % (degraded, not unstable) for three hours.
    results = (rounds(ROUTER, T0, end) + rounds(devices[1].id, T0, T0 + 3600, loss=0.3, seed=3)
               + rounds(devices[1].id, T0 + 3600, end, loss=0.03, seed=4))
    history = feed_and_evaluate(rig, results, T0, end)
    (flag,) = flags_since(store, 0)
    assert flag.cleared_ts is not None and flag.cleared_ts < T0 + 3600 + 2400
    states = [ev[VID(SETTLED)].windows["20m"][0].value for now, ev in history if now > T0 + 3600 + 900]
    assert "degraded" in states
    assert meets_threshold(flag.evidence, StabilityThresholds())
    assert any("loss" in g and "> 5 %" in g for g in flag.evidence["grounds"])
    assert flag.evidence["window"] == "20m" and flag.evidence["loss_pct"] > 5


def test_evidence_is_refreshed_only_by_evaluations_that_still_meet_the_flag(store):
    devices = [router(), village_device(LOSSY)]
    rig = Rig(store, devices, window_now=1200, raise_after=2, clear_after=500)
    end = T0 + 3 * 3600
    results = (rounds(ROUTER, T0, end) + rounds(devices[1].id, T0, T0 + 3600, loss=0.3, seed=3)
               + rounds(devices[1].id, T0 + 3600, end, loss=0.02, seed=5))
    feed_and_evaluate(rig, results, T0, end)
    (flag,) = open_flags(store)  # clear_after is long: still open, resting on the lossy hour
    e = flag.evidence
    assert e["loss_pct"] > 5 and e["window"] == "20m"
    (ground,) = e["grounds"]
    packets = int(ground.split(" over ")[1].split()[0])
    lost = round(e["loss_pct"] * packets / 100)
    assert Rate.of(lost, packets, "packets").surely_above(5.0)  # the stored numbers alone justify unstable
    assert e["trend"]["window"] == "2h"  # the long window comes along as context only
    assert flag.updated_ts <= T0 + 3600 + 1200  # not refreshed by the quiet hours


def test_power_cut_is_pending_while_dark_then_power_never_link(store):
    dev = village_device(DARK)
    devices = [router(), dev]
    rig = Rig(store, devices, window_now=600, raise_after=2, clear_after=500)
    cut = (T0 + 3600, T0 + 3600 + 900)
    end = T0 + 3 * 3600
    snmp = [snmp_uptime(dev.id, ts, 5_000_000.0 + ts - T0) for ts in range(int(T0), int(cut[0]), 300)]
    snmp += [snmp_uptime(dev.id, ts, 60.0 + ts - cut[1]) for ts in range(int(cut[1]) + 240, int(end), 300)]
    results = rounds(ROUTER, T0, end) + rounds(dev.id, T0, end, down=[cut]) + snmp
    history = feed_and_evaluate(rig, results, T0, end)
    causes = [(now, ev[VID(DARK)].windows["10m"][1].value) for now, ev in history]
    during = [c for now, c in causes if cut[0] + 300 <= now < cut[1]]
    assert during and set(during) == {"pending"}
    assert all(c != "link" for _, c in causes)  # never sent to the operator as the link
    (flag,) = flags_since(store, 0)
    assert flag.cause == "power"
    # An operator with only a power flag gets no (empty) section of its own.
    import io

    from rich.console import Console

    from netmon.ui.report_villages import render_villages

    assert flag.open
    console = Console(width=200, no_color=True, record=True, file=io.StringIO())
    render_villages(village_report(store, "UTC", now=end), "md", console)
    text = console.export_text()
    assert "Unstable coverage" not in text and "None." not in text and "## Power problems" in text


def test_follow_up_report_pending_section_and_cause_unknown_after_pending_max(store):
    dev = village_device(DARK, "Viettel")
    devices = [router(), dev]
    rig = Rig(store, devices, window_now=600, raise_after=2, clear_after=3)
    start_dark = T0 + 3600
    end = T0 + 4 * 3600
    snmp = [snmp_uptime(dev.id, ts, 5_000_000.0 + ts - T0) for ts in range(int(T0), int(start_dark), 300)]
    results = rounds(ROUTER, T0, end) + rounds(dev.id, T0, end, down=[(start_dark, end + 1)]) + snmp
    feed_and_evaluate(rig, results, T0, T0 + 3600 + 1800)
    report = village_report(store, "UTC", now=T0 + 3600 + 1800, pending_max_s=7200)
    assert report.link == {} and [r["village_id"] for r in report.pending] == [VID(DARK)]
    assert "cause not known yet" in report.pending[0]["note"]
    feed_and_evaluate(rig, [r for r in results if r.ts >= T0 + 3600 + 1800], T0 + 3600 + 1800, end)
    late = village_report(store, "UTC", now=end, pending_max_s=7200)
    (row,) = late.link["Viettel"]
    assert row["village_id"] == VID(DARK) and row["cause"] == "pending"
    assert row["note"].startswith("down for ") and row["note"].endswith("cause unknown") and not late.pending
    assert not late.power and not late.upstream


def test_nothing_flagged_is_said_plainly(store, tmp_path):
    import io

    from rich.console import Console

    from netmon.ui.report_villages import NOTHING_FLAGGED, render_villages

    rig = Rig(store, [router(), village_device(NOISY)])
    feed_and_evaluate(rig, [*rounds(ROUTER, T0, T0 + 1800), ping(f"{VID(NOISY)}/cpe", T0, 3)], T0, T0 + 600)
    for fmt in ("md", "table"):
        console = Console(width=200, no_color=True, record=True, file=io.StringIO())
        render_villages(village_report(store, "UTC", now=T0 + 600), fmt, console)
        text = console.export_text()
        assert NOTHING_FLAGGED in text and "##" not in text.replace("# Villages", "")


def test_open_outage_counts_up_to_now_not_month_end(store):
    from netmon.analysis.availability import availability_report

    dev = village_device(DARK)
    rig = Rig(store, [router(), dev])
    start_dark, now = T0 + 1800, T0 + 3600
    feed_and_evaluate(rig, rounds(ROUTER, T0, now) + rounds(dev.id, T0, now, down=[(start_dark, now + 1)]), T0, now)
    rows = availability_report(store, rig.catalog, T0 - 86400, T0 + 30 * 86400, now=now)
    (row,) = [r for r in rows if r.get("id") == VID(DARK)]
    assert row["outages"] == 1
    assert 1800 - 300 <= row["downtime_s"] <= 1800  # half an hour so far, not the rest of the month
    assert row["watched_pct"] > 1  # watched over the time that has passed


def test_unknown_says_why():
    from netmon.analysis.evaluator import unknown_reason
    from netmon.analysis.stability import WindowMetrics

    assert unknown_reason(WindowMetrics(rounds=3, agent_coverage=0.4), 600) == \
        "agent watched 4 minutes of the last 10 minutes (needs at least 50%)"
    assert "no judged round" in unknown_reason(WindowMetrics(agent_coverage=1.0), 3600)


def test_power_flag_evidence_names_every_device_that_booted_in_the_outage(store):
    """Two devices of one village that came back with their hosts rebooted: the flag's evidence says so."""
    cpe, bts = village_device(DARK), village_device(DARK, kind="bts")
    rig = Rig(store, [router(), cpe, bts], window_now=600, raise_after=2, clear_after=500)
    cut = (T0 + 3600, T0 + 3600 + 900)
    end = T0 + 2 * 3600
    results = rounds(ROUTER, T0, end)
    for dev in (cpe, bts):
        results += rounds(dev.id, T0, end, down=[cut])
        results += [snmp_uptime(dev.id, ts, 5_000_000.0 + ts - T0) for ts in range(int(T0), int(cut[0]), 300)]
        results += [snmp_uptime(dev.id, ts, 60.0 + ts - cut[1]) for ts in range(int(cut[1]) + 240, int(end), 300)]
    feed_and_evaluate(rig, results, T0, end)
    (flag,) = flags_since(store, 0)
    assert flag.cause == "power"
    assert flag.evidence.get("power_devices") == 2, flag.evidence
    note = flag.evidence.get("power_note", "")
    assert "2 devices" in note and "cpe" in note and "bts" in note, flag.evidence
