"""The telemetry detector's learning: robust warm-up, spikes against lasting shifts, spread changes,
the daily cycle, and a threshold learned from the tail of each series' own scores."""

import math
import pickle
import random

from detectors.engine import EngineConfig
from detectors.telemetry import EpisodeGate, TelemetryZ
from faultline.settings import Settings

MINUTE = 60_000


def run(values, times=None, threshold=6.0, quiet=60):
    """Prequential pass over one metric; (scores, rows where an episode opens, detector, gate)."""
    det, gate = TelemetryZ(), EpisodeGate(threshold, quiet)
    scores, opens = [], []
    for i, v in enumerate(values):
        ts = times[i] if times else i * MINUTE
        a = det.assess({"v": v}, ts_ms=ts)
        if gate.step(ts, a.score, not det.away):
            opens.append(i)
        det.learn_one({"v": v}, ts)
        scores.append(a.score)
    return scores, opens, det, gate


def noise(n, seed=1, sd=1.0):
    rng = random.Random(seed)
    return [rng.gauss(0.0, sd) for _ in range(n)]


def test_warm_up_is_robust_to_outliers_in_it():
    values = [10.0 + e for e in noise(60)]
    values[5] = values[20] = values[40] = 500.0  # three wild readings while the detector warms up
    det = TelemetryZ(grace=60)
    for v in values:
        det.learn_one({"v": v})
    assert abs(det.assess({"v": 10.0}).expected - 10.0) < 0.5
    assert det.stds()["v"] < 2.0  # the median absolute deviation, not the outliers
    assert det.score_one({"v": 17.0}) > 5


def test_a_spike_opens_one_episode_and_is_not_learned_as_the_new_level():
    values = [20.0 + e for e in noise(1000)]
    values[600] = 40.0
    scores, opens, det, _ = run(values)
    assert opens == [600]
    assert abs(det.assess({"v": 20.0}).expected - 20.0) < 0.5


def test_a_lasting_shift_is_adopted_so_the_next_change_alarms_again():
    values = [20.0 + e for e in noise(2000)]
    for i in range(600, 2000):
        values[i] += 10.0  # a step that stays
    for i in range(1400, 2000):
        values[i] -= 25.0  # and a second change later
    scores, opens, det, gate = run(values)
    assert opens == [600, 1400]
    assert max(scores[900:1400]) < 6  # the new level was adopted: quiet again
    assert abs(det.assess({"v": 5.0}).expected - 5.0) < 1.0


def test_a_ramp_is_not_adopted_while_it_keeps_moving():
    values = [20.0 + e for e in noise(1200)]
    for i in range(600, 1200):
        values[i] += 0.1 * (i - 600)  # +60 deviations over 600 readings
    scores, opens, _, gate = run(values)
    assert opens and 600 < opens[0] < 800
    assert gate.active and min(scores[1000:]) > 6  # still reported at its end


def test_a_lasting_wider_spread_is_alarmed_once_and_then_learned():
    values = [5.0 + e for e in noise(2500)]
    values[800:] = [5.0 + 5.0 * e for e in noise(1700, seed=2)]
    scores, opens, det, _ = run(values)
    assert len(opens) == 1 and 800 <= opens[0] < 900
    assert det.stds()["v"] > 3.0


def test_the_daily_cycle_is_learned_so_a_small_deviation_shows():
    day = 1440
    times = [i * MINUTE for i in range(4 * day)]
    values = [30.0 + 10.0 * math.sin(2 * math.pi * i / day) + e for i, e in enumerate(noise(4 * day))]
    for i in range(3 * day + 300, 3 * day + 420):
        values[i] += 10.0  # ten noise deviations, half the daily swing
    scores, opens, _, _ = run(values, times)
    assert opens and opens[0] in range(3 * day + 300, 3 * day + 330)
    assert not [o for o in opens if day + 60 <= o < 3 * day + 300]  # no alarm from the cycle itself
    without = TelemetryZ(season_bins=0)
    for i, v in enumerate(values[:3 * day + 300]):
        without.learn_one({"v": v}, times[i])
    assert without.score_one({"v": values[3 * day + 310]}) < 3  # lost in the swing without the profile


def test_the_daily_cycle_is_used_though_one_hour_of_the_day_is_never_seen():
    day = 1440
    rows = [i for i in range(4 * day) if not 600 <= i % day < 660]  # switched off 10:00-11:00 every day
    values = [30.0 + 10.0 * math.sin(2 * math.pi * i / day) + e for i, e in zip(rows, noise(len(rows)))]
    onset = rows.index(3 * day + 300)
    for k in range(onset, onset + 120):
        values[k] += 10.0
    _, opens, _, _ = run(values, [i * MINUTE for i in rows])
    assert opens and opens[0] in range(onset, onset + 30)
    assert not [o for o in opens if rows[o] >= day + 60 and o < onset]


def test_once_the_daily_cycle_is_removed_the_spread_is_learned_afresh_so_a_smaller_step_shows():
    # five-minute readings, a daily cycle of 20 noise deviations; on day nine a step of 11 for three hours
    for seed in (4, 5, 6):
        rng, start = random.Random(seed), 1_700_006_400_000
        det, gate, opened = TelemetryZ(), EpisodeGate(6.0, 60), []
        for i in range(288 * 10):
            step = 11.0 if 2404 <= i < 2440 else 0.0
            x = {"v": 50 + 20 * math.sin(2 * math.pi * (i % 288) / 288) + rng.gauss(0, 1) + step}
            ts = start + 300_000 * i
            if gate.step(ts, det.assess(x, ts_ms=ts).score, not det.away):
                opened.append(i)
            det.learn_one(x, ts)
        assert len(opened) == 1 and 2404 <= opened[0] <= 2410, (seed, opened)
        assert det.stds()["v"] < 1.8  # not the first days' 2.0-2.4, cycle and all, decaying at the half-life


def test_the_threshold_rises_for_a_heavy_tailed_series_and_stays_at_its_floor_for_a_gaussian_one():
    rng = random.Random(3)
    heavy = [rng.gauss(0.0, 1.0) / math.sqrt(rng.gammavariate(1.5, 2.0) / 3.0) for _ in range(4000)]
    _, heavy_opens, _, heavy_gate = run(heavy)
    _, gauss_opens, _, gauss_gate = run(noise(4000))
    assert heavy_gate.current > 8.0 and gauss_gate.current == 6.0
    assert len(heavy_opens) <= 4 and gauss_opens == []


def test_a_gate_checkpointed_before_the_learned_threshold_restores():
    gate = EpisodeGate(6.0, 60)
    state = {k: getattr(gate, k) for k in ("threshold", "quiet", "release", "active", "_below", "_last_ts",
                                            "interval_ms")}
    old = EpisodeGate.__new__(EpisodeGate)
    old.__setstate__(state)
    assert old.current == 6.0 and old.step(0, 7.0)
    assert pickle.loads(pickle.dumps(old)).active


def test_the_setting_and_the_engine_ship_the_same_threshold():
    assert Settings().detector_telemetry_threshold == EngineConfig().telemetry_threshold


def test_a_small_lasting_shift_shows_in_the_short_term_level_before_it_is_adopted():
    # a step of 3 noise deviations: no single reading reaches the threshold of 6, their level does
    for seed in (1, 2, 3):
        values = [20.0 + e for e in noise(2000, seed=seed)]
        for i in range(1200, 2000):
            values[i] += 3.0
        det, gate, opens, kinds = TelemetryZ(), EpisodeGate(6.0, 60), [], []
        for i, v in enumerate(values):
            a = det.assess({"v": v}, ts_ms=i * MINUTE)
            if gate.step(i * MINUTE, a.score, not det.away):
                opens.append(i)
                kinds.append(a.kind)
            det.learn_one({"v": v}, i * MINUTE)
        assert opens and 1200 <= opens[0] <= 1240 and kinds[0] == "level", (seed, opens, kinds)
        without = TelemetryZ(drift=0.0)  # the same detector scoring single readings only
        gate = EpisodeGate(6.0, 60)
        late = []
        for i, v in enumerate(values):
            if gate.step(i * MINUTE, without.assess({"v": v}, ts_ms=i * MINUTE).score, not without.away):
                late.append(i)
            without.learn_one({"v": v}, i * MINUTE)
        assert not [i for i in late if 1200 <= i <= 1240], (seed, late)


def test_a_wandering_series_teaches_the_short_term_level_how_far_it_wanders():
    # an autocorrelated series (AR(1), coefficient 0.98) wanders far more than its noise allows by chance
    rng = random.Random(7)
    values, y = [], 0.0
    for _ in range(6000):
        y = 0.98 * y + rng.gauss(0.0, 1.0)
        values.append(50.0 + y)
    _, opens, det, _ = run(values)
    s = det._stats["v"]
    local = 1.0 - 0.5 ** (1.0 / det.local_halflife)
    assert s[18] > 3.0 * local / (2.0 - local) * s[2]  # its level's learned variance, against chance
    assert len(opens) <= 1, opens


def test_a_detector_checkpointed_before_the_short_term_level_was_scored_restores():
    det = TelemetryZ()
    for i, e in enumerate(noise(200)):
        det.learn_one({"v": 10.0 + e}, i * MINUTE)
    state = det.__dict__.copy()
    state["_stats"] = {k: v[:18] for k, v in det._stats.items()}
    del state["drift"], state["threshold"]
    old = TelemetryZ.__new__(TelemetryZ)
    old.__setstate__(pickle.loads(pickle.dumps(state)))
    assert old.drift == 10.0 and old._stats["v"][18] == old._stats["v"][2]  # a level's variance unknown: wide
    assert old.assess({"v": 10.0}, ts_ms=200 * MINUTE).score < 6
    for i, e in enumerate(noise(4000, seed=2)):
        old.learn_one({"v": 10.0 + e}, (201 + i) * MINUTE)
    s = old._stats["v"]
    assert s[18] < 0.1 * s[2]  # learned down towards what a level of plain noise has (about 0.035 of it)


def test_scoring_and_learning_in_one_pass_equals_scoring_then_learning():
    """`assess_learn` (the engine's path) gives the scores and the state of `assess` followed by `learn_one`:
    several metrics sharing a driver, a daily cycle, a repeated value, a step and a young-device floor."""
    rng = random.Random(7)
    apart, together = TelemetryZ(grace=30), TelemetryZ(grace=30)
    scores_apart, scores_together = [], []
    for i in range(4 * 1440):
        ts = i * MINUTE
        load = math.sin(2 * math.pi * i / 1440) + rng.gauss(0, 0.2)
        x = {"a": 10 * load + rng.gauss(0, 1) + (4.0 if i > 3 * 1440 else 0.0),
             "b": 3 * load + rng.gauss(0, 0.3), "c": 5.0 if 2000 < i < 2040 else rng.gauss(5, 1)}
        floor = {"a": 2.0} if i < 1440 else None
        a = apart.assess(x, floor, ts)
        apart.learn_one(x, ts, floor)
        scores_apart.append((a.score, a.metric, a.kind, a.expected, apart.away))
        b = together.assess_learn(x, ts, floor)
        scores_together.append((b.score, b.metric, b.kind, b.expected, together.away))
    assert scores_together == scores_apart
    assert {k for _, _, k, _, _ in scores_apart} >= {"deviation", "level", "stuck"}
    assert pickle.dumps(together) == pickle.dumps(apart)
