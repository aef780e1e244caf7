"""The cross-metric residual: a change one metric makes alone shows before its own swing lets it,
while a swing every metric shares raises nothing."""

import math
import pickle
import random

from detectors.crossmetric import CommonFactor
from detectors.telemetry import EpisodeGate, TelemetryZ

MINUTE = 60_000
GAINS = {"temp": (36.0, 14.0, 0.35), "vib": (0.07, 0.06, 0.006), "amps": (5.5, 6.0, 0.12), "bar": (2.8, 1.6, 0.05)}


def device(n, seed=3, ramp_at=None, ramp_per_reading=0.0):
    """Readings of a device whose metrics share one load (a daily cycle and a slow wander); optionally
    ``vib`` ramps up from ``ramp_at``."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        hours = i / 60.0
        load = 0.5 + 0.35 * math.cos(2 * math.pi * (hours - 14.0) / 24.0) + 0.07 * math.sin(2 * math.pi * hours / 3.0)
        x = {name: base + gain * load + rng.gauss(0.0, sd) for name, (base, gain, sd) in GAINS.items()}
        if ramp_at is not None and i >= ramp_at:
            x["vib"] += (i - ramp_at) * ramp_per_reading
        rows.append(x)
    return rows


def opens(rows, floor=None):
    """Prequential pass like the engine's for a young device (deviations floored by ``floor``)."""
    det, gate = TelemetryZ(), EpisodeGate(6.0, 60)
    out = []
    for i, x in enumerate(rows):
        a = det.assess(x, floor, i * MINUTE)
        if gate.step(i * MINUTE, a.score, not det.away):
            out.append((i, a.kind, a.metric))
        det.learn_one(x, i * MINUTE, floor)
    return out


# a model's pooled deviations: the daily swing and the spread between devices, as the engine floors with
FLOOR = {name: 0.3 * gain for name, (_, gain, _) in GAINS.items()}


def test_a_small_ramp_on_one_metric_is_reported_early_in_a_young_device():
    rows = device(900, ramp_at=420, ramp_per_reading=0.001)  # vib: + one noise deviation in 6 readings
    found = opens(rows, FLOOR)
    assert found and found[0][2] == "vib" and found[0][1] in ("residual", "drift")
    assert 420 <= found[0][0] <= 420 + 45  # the floored z-score alone needs about 90 readings


def test_a_slow_ramp_is_scored_by_its_drift_before_any_one_reading_stands_out():
    rows = device(600, seed=2, ramp_at=420, ramp_per_reading=0.001)  # vib: + one noise deviation in 6 readings

    def first_alarm(cf):
        for i, x in enumerate(rows):
            score, metric, _, kind = cf.assess(x)
            if i >= 420 and score >= 6:
                return i, metric, kind
            cf.learn_one(x)
        return None

    found, without = first_alarm(CommonFactor()), first_alarm(CommonFactor(drift=math.inf))
    assert found is not None and found[1:] == ("vib", "drift")
    assert without is not None and without[1:] == ("vib", "residual")
    assert found[0] < without[0]


def test_a_checkpoint_from_before_drifts_were_scored_scores_them():
    cf = CommonFactor()
    for x in device(400):
        cf.learn_one(x)
    del cf.__dict__["drift"]  # as pickled before drifts were scored
    old = pickle.loads(pickle.dumps(cf))
    assert old.drift == 15.0 and len(old.assess(device(401)[-1])) == 4


def test_the_shared_swing_alone_raises_nothing():
    for seed in (1, 2, 3):
        assert opens(device(1440, seed=seed), FLOOR) == []


def test_a_metric_the_others_do_not_explain_is_not_scored():
    rng = random.Random(5)
    cf = CommonFactor(warm=100)
    for i in range(1500):
        load = math.sin(i / 60.0)
        cf.learn_one({"a": 10 * load + rng.gauss(0, 0.1), "b": 3 * load + rng.gauss(0, 0.05),
                      "c": rng.gauss(0, 1.0)})
    level = math.sin(25.0)
    assert cf.assess({"a": 10 * level, "b": 3 * level, "c": 3.5})[1] != "c"
    assert cf.score_one({"a": 10 * level, "b": 3 * level + 2.0, "c": 0.0}) > 6


def test_a_lasting_step_is_adopted_and_the_residual_is_normal_again():
    rows = device(1400, seed=4)
    for x in rows[500:]:
        x["bar"] += 0.5  # ten noise deviations, for good
    cf = CommonFactor()
    scores = []
    for x in rows:
        scores.append(cf.score_one(x))
        cf.learn_one(x)
    assert max(scores[500:520]) > 6
    assert max(scores[700:]) < 6


def test_a_detector_checkpointed_before_the_cross_metric_residual_restores_and_learns_it():
    det = TelemetryZ()
    rows = device(600)
    for i, x in enumerate(rows[:300]):
        det.learn_one(x, i * MINUTE)
    state = det.__dict__
    del state["_cross"], state["factor"]  # as pickled before the residual existed
    old = pickle.loads(pickle.dumps(det))
    for i, x in enumerate(rows[300:], 300):
        old.assess(x, ts_ms=i * MINUTE)
        old.learn_one(x, i * MINUTE)
    assert old._cross is not None and old._cross.score_one(rows[-1]) < 6


def test_a_metric_held_away_keeps_the_detector_away_through_readings_that_lack_it():
    rng = random.Random(5)
    rows = device(900, seed=4)
    for i, x in enumerate(rows):
        x["bar"] = 2.8 + rng.gauss(0.0, 0.05) + (0.5 if i >= 500 else 0.0)  # no part in the load; a step at 500
    cf = CommonFactor()
    for x in rows[:510]:
        cf.score_one(x)
        cf.learn_one(x)
    assert cf.away
    for x in rows[510:515]:  # without bar: the others are learned as usual, bar is still away
        x = {k: v for k, v in x.items() if k != "bar"}
        cf.score_one(x)
        cf.learn_one(x)
        assert cf.away


def test_scoring_and_learning_in_one_pass_equals_scoring_then_learning():
    rows = device(1400, seed=6, ramp_at=900, ramp_per_reading=0.0005)
    for x in rows[600:620]:
        x["bar"] += 0.5  # a short step: residuals away, then back
    apart, together = CommonFactor(), CommonFactor()
    kinds = set()
    for x in rows:
        a = apart.assess(x)
        apart.learn_one(x)
        assert together.assess_learn(x) == a
        assert together.away == apart.away
        kinds.add(a[3])
    assert kinds >= {"residual", "drift"}
    assert pickle.dumps(together) == pickle.dumps(apart)


def test_a_metric_alone_has_no_residual_so_it_never_holds_the_detector_away():
    rng = random.Random(2)
    cf = CommonFactor()
    for i in range(1200):
        x = {"v": rng.gauss(0.0, 1.0) + (6.0 if i >= 600 else 0.0)}  # a step the metric's own scores report
        assert cf.assess_learn(x) == (0.0, "", 0.0, "")
        assert not cf.away
