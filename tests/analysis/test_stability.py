"""Village state, cause attribution and flag hysteresis on synthetic rounds (real SQLite store)."""

from __future__ import annotations

import pytest

from netmon.analysis.flags import Action, Streaks, step
from netmon.analysis.stability import Cause, State, WindowMetrics, classify, hist_bucket, hist_quantile
from netmon.analysis.status import flags_since, latest_village_status, open_flags
from netmon.config.schema import StabilityThresholds
from netmon.store import Store

from .helpers import ROUTER, STEP_S, T0, Rig, ping, rounds, router, snmp_uptime, village_device

CLEAN, LOSSY, FLAPPY = "ta-phin", "nam-tam", "pa-tan"
VID = "lai-chau/sin-ho/{}".format


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "state")
    yield s
    s.close()


def run_hours(rig: Rig, devices_rounds: dict[str, dict], start: float, end: float, evaluate_every: float = 60.0):
    """Feed rounds minute by minute and evaluate every minute; returns the evaluations by time."""
    history = []
    all_results = sorted((r for rs in devices_rounds.values() for r in rs), key=lambda r: r.ts)
    rig.alive(start, end)
    i, now = 0, start + evaluate_every
    while now <= end:
        chunk = []
        while i < len(all_results) and all_results[i].ts < now:
            chunk.append(all_results[i])
            i += 1
        rig.feed(chunk, now)
        history.append((now, rig.evaluate(now)))
        now += evaluate_every
    return history


def test_histogram_quantile_is_within_a_bucket():
    hist = [0] * 24
    for rtt in [10.0] * 90 + [400.0] * 10:
        hist[hist_bucket(rtt)] += 1
    p50, p95 = hist_quantile(hist, 0.5), hist_quantile(hist, 0.95)
    assert 10 / 1.5 <= p50 <= 10 * 1.5
    assert 400 / 1.5 <= p95 <= 400 * 1.5
    assert hist_quantile([0] * 24, 0.95) is None


@pytest.mark.parametrize(("metrics", "state"), [
    (WindowMetrics(), State.UNKNOWN),
    (WindowMetrics(rounds=100, rounds_up=100, sent=300, received=300, agent_coverage=0.2), State.UNKNOWN),
    (WindowMetrics(rounds=100, rounds_up=100, sent=300, received=300), State.GOOD),
    (WindowMetrics(rounds=1000, rounds_up=985, sent=3000, received=2985), State.DEGRADED),
    # 99.4 % over 1000 rounds: the interval (98.7-99.7 %) does not lie below 99.5 %
    (WindowMetrics(rounds=1000, rounds_up=994, sent=3000, received=2994), State.GOOD),
    # 6 % loss over 100 packets: the interval (2.8-12.5 %) does not lie above 5 % (but above 1 %)
    (WindowMetrics(rounds=20, rounds_up=20, sent=100, received=94), State.DEGRADED),
    (WindowMetrics(rounds=100, rounds_up=100, sent=300, received=270), State.UNSTABLE),
    (WindowMetrics(rounds=100, rounds_up=100, sent=300, received=300, outages=3), State.UNSTABLE),
    (WindowMetrics(rounds=100, rounds_up=30, sent=300, received=90), State.DOWN),
    (WindowMetrics(rounds=100, rounds_up=40, sent=300, received=120), State.UNSTABLE),  # 40 % of 100: may be 50 %
    (WindowMetrics(rounds=100, rounds_up=99, sent=300, received=297, all_down_s=120), State.DOWN),
])
def test_classify(metrics, state):
    assert classify(metrics, StabilityThresholds(), down_after_s=60) is state


@pytest.mark.parametrize(("states", "actions"), [
    ("bbb", "--R"),
    ("bbgbbb", "-----R"),          # a good evaluation restarts the count
    ("bbdbbb", "-----R"),          # so does a degraded one
    ("bbubbggug", "-R-----" "-C"),  # unknown neither counts nor resets
    ("bbbddd", "--R--C"),          # degraded no longer meets the flag's condition: it clears
    ("bbbdgbd", "--R----"),        # a bad evaluation restarts the clearing count
    ("bbbdudg", "-R----C"),       # (raise_after 2 here) unknown does not break the clearing count
])
def test_hysteresis(states, actions):
    letters = {"b": State.UNSTABLE, "g": State.GOOD, "d": State.DEGRADED, "u": State.UNKNOWN}
    s, got = Streaks(), []
    for ch in states:
        action = step(s, letters[ch], raise_after=2 if "u" in states else 3, clear_after=3)
        if action is Action.RAISE:
            s.flag_id = 1
        if action is Action.CLEAR:
            s.flag_id = None
        got.append({Action.RAISE: "R", Action.CLEAR: "C", Action.NONE: "-"}[action])
    assert "".join(got) == actions


def test_lossy_and_flapping_villages_are_flagged_link_clean_is_not(store, caplog):
    devices = [router(), village_device(CLEAN), village_device(LOSSY, "MobiFone"), village_device(FLAPPY, "VNPT")]
    rig = Rig(store, devices)
    end = T0 + 3 * 3600
    flaps = [(T0 + k * 900, T0 + k * 900 + 180) for k in range(1, 12)]
    plan = {
        ROUTER: rounds(ROUTER, T0, end),
        CLEAN: rounds(devices[1].id, T0, end, loss=0.002, seed=2),
        LOSSY: rounds(devices[2].id, T0, end, loss=0.3, seed=3),
        FLAPPY: rounds(devices[3].id, T0, end, down=flaps, seed=4),
    }
    history = run_hours(rig, plan, T0, end)
    flags = {f.village_id: f for f in open_flags(store)}
    assert set(flags) == {VID(LOSSY), VID(FLAPPY)}
    assert flags[VID(LOSSY)].cause == "link" and flags[VID(LOSSY)].operator == "MobiFone"
    assert flags[VID(FLAPPY)].cause == "link" and flags[VID(FLAPPY)].operator == "VNPT"
    assert flags[VID(LOSSY)].evidence["loss_pct"] > 20
    assert flags[VID(FLAPPY)].evidence["outages"] >= 2 and flags[VID(FLAPPY)].evidence["worst_hours"]
    _, last = history[-1]
    assert last[VID(CLEAN)].windows["30m"][0] in (State.GOOD, State.DEGRADED)
    status = latest_village_status(store)
    assert status[VID(LOSSY)].flagged and status[VID(LOSSY)].state == "unstable"
    assert status[VID(CLEAN)].windows["2h"]["availability_pct"] > 99
    raised = [r for r in caplog.records if r.getMessage().startswith("flag raised")]
    assert len(raised) == 2  # logged once each, not every evaluation


def test_trouble_that_stops_clears_after_clear_after_good_evaluations(store):
    devices = [router(), village_device(LOSSY)]
    rig = Rig(store, devices, window_now=600)
    end = T0 + 2 * 3600
    plan = {ROUTER: rounds(ROUTER, T0, end),
            LOSSY: rounds(devices[1].id, T0, T0 + 3600, loss=0.4) + rounds(devices[1].id, T0 + 3600, end)}
    history = run_hours(rig, plan, T0, end)
    raised = [now for now, ev in history if ev[VID(LOSSY)].action is Action.RAISE]
    cleared = [now for now, ev in history if ev[VID(LOSSY)].action is Action.CLEAR]
    assert len(raised) == 1 and len(cleared) == 1
    first_good = min(now for now, ev in history if now > raised[0] and ev[VID(LOSSY)].windows["10m"][0] is State.GOOD)
    assert cleared[0] == first_good + 2 * 60  # the 3rd consecutive good evaluation
    (flag,) = [f for f in store.conn.execute("SELECT cleared_ts FROM flags")]
    assert flag[0] == cleared[0]
    assert open_flags(store) == []


def test_upstream_router_down_excuses_villages(store):
    devices = [router(), village_device(CLEAN), village_device(LOSSY, "MobiFone")]
    rig = Rig(store, devices)
    end = T0 + 2 * 3600
    cut = [(T0 + 3600, T0 + 3600 + 1500)]
    plan = {ROUTER: rounds(ROUTER, T0, end, down=cut),
            CLEAN: rounds(devices[1].id, T0, end, down=cut),
            LOSSY: rounds(devices[2].id, T0, end, down=cut, seed=7)}
    history = run_hours(rig, plan, T0, end)
    during = dict(history)[T0 + 3600 + 1200]
    for v in (CLEAN, LOSSY):
        state, cause, m = during[VID(v)].windows["30m"]
        assert cause is Cause.UPSTREAM and state.bad, (v, state, cause)
        assert m.rounds_excused >= 15 and m.outages == 0
    flags = flags_since(store, 0)
    assert len(flags) == 2 and {f.cause for f in flags} == {"upstream"}
    assert all(f.evidence["availability_pct"] < 90 for f in flags)
    causes = {c for (c,) in store.conn.execute("SELECT cause FROM analysis_outages WHERE village_id != ''")}
    assert causes == {"upstream"}


def test_unknown_parent_does_not_excuse(store):
    devices = [router(), village_device(LOSSY)]
    rig = Rig(store, devices)
    end = T0 + 3600
    plan = {LOSSY: rounds(devices[1].id, T0, end, down=[(T0 + 1800, T0 + 2400)])}  # no router rounds at all
    history = run_hours(rig, plan, T0, end)
    state, cause, m = history[-1][1][VID(LOSSY)].windows["30m"]
    assert cause is Cause.LINK and state.bad and m.rounds_excused == 0


def test_power_cut_is_power_when_uptime_restarts(store):
    devices = [router(), village_device(FLAPPY)]
    rig = Rig(store, devices)
    end = T0 + 2 * 3600
    cut_start, cut_end = T0 + 3600, T0 + 3600 + 1200
    plan = {ROUTER: rounds(ROUTER, T0, end),
            FLAPPY: [*rounds(devices[1].id, T0, end, down=[(cut_start, cut_end)]),
                     snmp_uptime(devices[1].id, T0 + 1000, 5_000_000.0),
                     snmp_uptime(devices[1].id, cut_end + 100, 150.0)]}
    history = run_hours(rig, plan, T0, end)
    during = dict(history)[cut_end + 600]
    state, cause, _ = during[VID(FLAPPY)].windows["30m"]
    assert state.bad and cause is Cause.POWER
    # Raised as link while the village was dark; the uptime that came back turned it into power.
    (flag,) = flags_since(store, 0)
    assert flag.cause == "power"


def test_no_data_and_agent_downtime_are_unknown_not_down(store):
    devices = [router(), village_device(CLEAN), village_device(LOSSY)]
    rig = Rig(store, devices)
    rig.feed(rounds(devices[1].id, T0, T0 + 3600) + rounds(ROUTER, T0, T0 + 3600), T0 + 3600)
    rig.alive(T0, T0 + 3600)
    # The agent then stops for 3 hours: the last state was down for CLEAN, but nobody was watching.
    rig.feed([ping(devices[1].id, T0 + 3600, 0)], T0 + 3600 + 200)
    ev = rig.evaluate(T0 + 4 * 3600)
    for v in (CLEAN, LOSSY):
        for state, cause, _ in ev[VID(v)].windows.values():
            assert state is State.UNKNOWN and cause is Cause.NONE, v
    assert open_flags(store) == []
    rig.alive(T0 + 4 * 3600, T0 + 4 * 3600 + 1)
    fresh = Rig(store, devices)  # restart: state resumes, the gap adds no down time
    fresh.feed(rounds(devices[1].id, T0 + 4 * 3600, T0 + 4 * 3600 + 600), T0 + 4 * 3600 + 900)
    (down_s,) = store.conn.execute("SELECT sum(down_s) FROM rollup_device WHERE device_id = ?",
                                   (devices[1].id,)).fetchone()
    assert down_s < 2 * STEP_S


def test_clock_jumps_do_not_corrupt_rollups(store):
    devices = [router(), village_device(CLEAN)]
    rig = Rig(store, devices)
    dev = devices[1].id
    now = T0 + 1800
    good = rounds(dev, T0, T0 + 1200)
    future = [ping(dev, T0 + 86400 * 3, 0), ping(dev, T0 + 10 * 86400, 3)]
    past = [ping(dev, T0 - 30 * 86400, 0)]
    late = [ping(dev, T0 + 1200 - 90, 3)]  # slightly out of order: counted, does not move the state
    rig.feed(good + future + past + late, now)
    (rounds_n, up, down_s, neg) = store.conn.execute(
        "SELECT sum(rounds), sum(rounds_up), sum(down_s), min(down_s) FROM rollup_device WHERE device_id = ?",
        (dev,)).fetchone()
    assert (rounds_n, up) == (21, 21) and down_s == 0 and neg >= 0
    assert store.counters()["analysis_rejected_ts"] == 3
    # The cursor moved past the rejected rows: processing again consumes nothing and counts nothing twice.
    assert rig.engine.process(now + 600) == 0
    again = store.conn.execute("SELECT sum(rounds) FROM rollup_device").fetchone()[0]
    assert again == 21
    # The system clock jumps back an hour: the timeline restarts instead of dropping every round.
    back = rounds(dev, T0 - 3600, T0 - 3000)
    rig.feed(back, T0 - 2700)
    assert store.conn.execute("SELECT sum(rounds) FROM rollup_device").fetchone()[0] == 31


def test_packed_histograms_add_like_histograms():
    from netmon.analysis.db import pack_hist, unpack_hist

    a, b = [i * 1000 for i in range(24)], [(i * 7919) % 40000 for i in range(24)]
    summed = [x + y for x, y in zip(pack_hist(a), pack_hist(b), strict=True)]
    assert list(unpack_hist(summed)) == [x + y for x, y in zip(a, b, strict=True)]


def test_unsettled_rounds_are_remembered_once(store):
    devices = [router(), village_device(CLEAN)]
    rig = Rig(store, devices)
    # settle 120 s: the last two rounds wait; all down, as only down rounds are kept
    rig.feed(rounds(ROUTER, T0, T0 + 600, down=[(T0, T0 + 600)]), T0 + 600)
    for k in range(5):
        rig.engine.process(T0 + 600 + k)
    stored = rig.engine.recent._rounds[ROUTER]
    assert len(stored) == len(set(stored)) == 10


def test_boot_before_the_outage_or_without_a_prior_up_round_is_not_power(store):
    devices = [router(), village_device(FLAPPY), village_device(LOSSY)]
    rig = Rig(store, devices)
    end = T0 + 3600
    flappy, lossy = devices[1].id, devices[2].id
    plan = {ROUTER: rounds(ROUTER, T0, end),
            # down from its very first round: nobody saw it up, so its boot proves nothing
            FLAPPY: [*rounds(flappy, T0, end, down=[(T0, T0 + 600)]), snmp_uptime(flappy, T0 + 700, 720.0)],
            # booted 5 min before a later outage: an ordinary link outage
            LOSSY: [*rounds(lossy, T0, end, down=[(T0 + 1200, T0 + 1800)]), snmp_uptime(lossy, T0 + 1900, 1200.0)]}
    run_hours(rig, plan, T0, end)
    causes = {d: c for d, c in store.conn.execute("SELECT device_id, cause FROM analysis_outages")}
    assert causes == {flappy: "link", lossy: "link"}


def test_agent_side_errors_are_not_down_rounds(store):
    from netmon.model import ProbeResult, Status

    devices = [router(), village_device(CLEAN)]
    rig = Rig(store, devices)
    dev = devices[1].id
    errors = [ProbeResult(dev, "reachability", "icmp", Status.ERROR, "overrun", T0 + 30 + 60 * k, 1.8)
              for k in range(5)]
    rig.feed([*rounds(dev, T0, T0 + 600), *errors], T0 + 900)
    (n, up) = store.conn.execute("SELECT sum(rounds), sum(rounds_up) FROM rollup_device WHERE device_id = ?",
                                 (dev,)).fetchone()
    assert (n, up) == (10, 10)
    assert store.conn.execute("SELECT count(*) FROM analysis_outages").fetchone()[0] == 0
