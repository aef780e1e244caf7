"""Each incident kind does to the generated messages what its ground truth says."""

import json
import math
from datetime import datetime

import pytest

from simulators.fleet import Simulation

START = 1_764_000_000_000


def run(name, devices=30, duration_s=86400, seed=2, **kw):
    sim = Simulation(name, devices=devices, seed=seed, duration_s=duration_s, start_ms=START, **kw)
    return sim, list(sim.messages()), sim.truth()


def of(messages, device, kind):
    return [m for m in messages if m.topic.endswith(f"/{device}/{kind}")]


def samples(messages, device, metric):
    out = []
    for m in of(messages, device, "telemetry"):
        body = json.loads(m.payload)
        for obj in body if isinstance(body, list) else [body]:
            out.append((round(obj["ts"] * 1000), obj["metrics"][metric]))
    return out


def mean(values):
    return sum(values) / len(values)


def test_degradation_drifts_vibration_and_temperature_up_then_faults():
    sim, messages, truth = run("device-degradation")
    incident = truth.incident("pump-bearing-wear")
    device, fault_ms = incident.device, incident.expectations["fault_ms"]
    for metric, rise in incident.expectations["rise"].items():
        series = samples(messages, device, metric)
        before = mean([v for t, v in series if incident.start_ms - 3_600_000 <= t < incident.start_ms])
        at_fault = mean([v for t, v in series if fault_ms - 1_800_000 <= t < fault_ms])
        assert at_fault - before > 0.6 * rise, metric
    faults = [json.loads(m.payload) for m in of(messages, device, "events")]
    assert any(e["type"] == "fault" and e["code"] == "E301" and round(e["ts"] * 1000) == fault_ms for e in faults)


def test_stuck_sensor_freezes_one_metric_only():
    sim, messages, truth = run("stuck-sensor")
    incident = truth.incident("frozen-pressure")
    metric = incident.expectations["metric"]
    frozen = {v for t, v in samples(messages, incident.device, metric) if t >= incident.start_ms}
    moving = {v for t, v in samples(messages, incident.device, metric) if t < incident.start_ms}
    assert len(frozen) == 1 and len(moving) > 50
    other = {v for t, v in samples(messages, incident.device, "power_kw") if t >= incident.start_ms}
    assert len(other) > 50


def test_offline_devices_go_quiet_after_their_status_says_so():
    sim, messages, truth = run("offline")
    for incident in (truth.incident("site-power-loss"), truth.incident("planned-outage")):
        for device in incident.affected_devices:
            status = [(m.ts_ms, m.payload, m.will) for m in of(messages, device, "status")]
            assert (incident.start_ms, b"offline", incident.expectations["via"] == "will") in status
            quiet = [m for m in messages if f"/{device}/" in m.topic and m.topic.rsplit("/", 1)[1] != "status"
                     and incident.start_ms <= m.ts_ms < incident.end_ms]
            assert quiet == [] or all(m.topic.endswith("/meta") and m.ts_ms == incident.end_ms for m in quiet)
            assert incident.tickets and all(t.code == "offline" for t in incident.tickets)
    back = truth.incident("planned-outage")
    (device,) = back.affected_devices
    assert any(m.ts_ms >= back.end_ms for m in of(messages, device, "telemetry"))


def test_flapping_raises_and_clears_as_often_as_the_truth_says():
    sim, messages, truth = run("flapping")
    incident = truth.incident("condenser-fan-flap")
    events = [json.loads(m.payload) for m in of(messages, incident.device, "events")]
    in_window = [e for e in events if e["code"] == "E430" and incident.start_ms <= e["ts"] * 1000 < incident.end_ms]
    raised = [e for e in in_window if e["type"] == "fault"]
    assert len(raised) == incident.expectations["fault_cycles"] >= 5
    assert len(incident.tickets) == 1


def test_message_storm_sends_the_stated_number_of_messages():
    sim, messages, truth = run("message-storm", topics={"logs"})
    incident = truth.incident("sensor-bus-storm")
    storm = [m for m in of(messages, incident.device, "logs") if b"i2c bus retry" in m.payload]
    assert len(storm) == incident.expectations["messages"] == 24_000
    assert all(incident.start_ms <= m.ts_ms < incident.end_ms for m in storm)
    assert incident.tickets == ()


def test_clock_skew_shifts_only_the_payload_timestamps_in_the_window():
    sim, messages, truth = run("clock-skew")
    incident = truth.incident("gateway-clock-ahead")
    offset_ms = incident.expectations["offset_s"] * 1000
    shifted = 0
    for m in messages:
        if f"/{incident.device}/" in m.topic and m.topic.rsplit("/", 1)[1] in ("telemetry", "logs", "events"):
            skew = round(json.loads(m.payload)["ts"] * 1000) - m.ts_ms
            inside = incident.start_ms <= m.ts_ms < incident.end_ms
            assert skew == (offset_ms if inside else 0)
            shifted += inside
    assert shifted == incident.expectations["skewed_messages"] > 0


def valid_ts(ts) -> bool:
    if isinstance(ts, str):
        try:
            datetime.fromisoformat(ts.replace("Z", "+00:00"))
        except ValueError:
            return False
        return True
    return isinstance(ts, (int, float)) and not isinstance(ts, bool)


def contract_problem(topic: str, payload: bytes) -> str:
    """Why a message breaks the device contract ("" if it does not), checked independently of ingest."""
    kind = topic.split("/")[-1]
    if topic.count("/") != 2 or kind not in ("telemetry", "logs", "events", "meta", "status"):
        return "topic"
    if kind == "status":
        return "" if payload in (b"online", b"offline") else "status"
    try:
        body = json.loads(payload.decode("utf-8"), parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except (UnicodeDecodeError, ValueError):
        return "json"
    for obj in body if isinstance(body, list) else [body]:
        if kind in ("telemetry", "logs", "events") and not valid_ts(obj.get("ts")):
            return "ts"
        if kind == "telemetry":
            metrics = obj.get("metrics")
            if not isinstance(metrics, dict) or not all(
                    isinstance(v, (int, float)) and not (isinstance(v, float) and math.isnan(v))
                    for v in metrics.values()):
                return "metrics"
    return ""


def test_malformed_messages_are_exactly_the_ones_the_truth_counts():
    sim, messages, truth = run("malformed", duration_s=6 * 3600)
    incident = truth.incident("corrupt-payloads")
    problems = [contract_problem(m.topic, m.payload) for m in messages]
    assert sum(1 for p in problems if p) == incident.expectations["dead_letters"] > 0
    assert set(incident.expectations["by_reason"]) == {"truncated", "wrong-type", "nan", "bad-utf8", "wrong-topic",
                                                       "not-json"}
    assert incident.tickets == ()


@pytest.mark.parametrize("style,check", [
    ("millis", lambda ts: isinstance(ts, int) and ts > 10**11),
    ("rfc3339", lambda ts: isinstance(ts, str) and ts.endswith("Z") and "T" in ts),
])
def test_timestamp_styles(style, check):
    from simulators.scenario import load_scenario

    scenario = load_scenario("healthy").model_copy(update={"timestamps": style})
    sim = Simulation(scenario, devices=3, seed=1, duration_s=3600, start_ms=START, topics={"telemetry", "logs"})
    stamps = [json.loads(m.payload)["ts"] for m in sim.messages()]
    assert stamps and all(check(ts) for ts in stamps)


def test_a_telemetry_storm_adds_the_stated_samples_with_increasing_seq():
    from simulators.scenario import load_scenario

    base = load_scenario("message-storm")
    storm = base.incidents[0].model_copy(update={"topic": "telemetry", "rate_per_s": 50.0})
    scenario = base.model_copy(update={"incidents": [storm]})
    quiet = Simulation(load_scenario("healthy"), devices=10, seed=4, duration_s=6 * 3600, start_ms=START,
                       topics={"telemetry"})
    loud = Simulation(scenario, devices=10, seed=4, duration_s=6 * 3600, start_ms=START, topics={"telemetry"})
    incident = loud.truth().incident("sensor-bus-storm")
    before = of(list(quiet.messages()), incident.device, "telemetry")
    after = of(list(loud.messages()), incident.device, "telemetry")
    assert len(after) - len(before) == incident.expectations["messages"] == 6000
    seqs = [json.loads(m.payload)["seq"] for m in after]
    assert seqs == list(range(1, len(after) + 1))


def _faults(messages, truth, device):
    return [json.loads(m.payload) for m in of(messages, device, "events") if json.loads(m.payload)["type"] == "fault"]


def test_site_fault_hits_every_model_at_one_site_with_its_own_code():
    sim, messages, truth = run("site-fault", devices=120, duration_s=2 * 86400, topics=("events", "meta"))
    (inc,) = truth.incidents
    site = inc.cohort["site"]
    assert inc.attribution == f"site={site}" and inc.fault_codes == ("P510",)
    at_site = {d.device for d in truth.fleet if d.site == site}
    assert set(inc.affected_devices) == at_site
    assert len({d.model for d in truth.fleet if d.site == site}) > 1  # across models
    faulted = {o.device for o in inc.occurrences if o.kind == "fault"}
    assert faulted and faulted <= at_site and set(inc.tickets[0].children) == faulted
    assert inc.root_cause_markers == ("supply voltage sag below 190 V",)
    p510 = [f for d in at_site for f in _faults(messages, truth, d) if f["code"] == "P510"]
    assert len(p510) == inc.expectations["incident_faults"]


def test_hw_batch_confines_the_excess_to_one_revision_of_one_model():
    sim, messages, truth = run("hw-batch", devices=120, duration_s=2 * 86400, topics=("events", "meta"))
    (inc,) = truth.incidents
    assert inc.attribution == "hw_rev=B" and inc.cohort == {"model": "PX-200", "hw_rev": "B"}
    batch = {d.device for d in truth.fleet if d.model == "PX-200" and d.hw_rev == "B"}
    assert set(inc.affected_devices) == batch
    assert {o.device for o in inc.occurrences} <= batch
    meta = json.loads(of(messages, sorted(batch)[0], "meta")[0].payload)
    assert meta["hw_rev"] == "B"


def test_a_firmware_rollout_can_be_confined_to_sites():
    sim, messages, truth = run("firmware-regression-site", devices=200, duration_s=2 * 86400,
                               topics=("events", "meta"))
    (inc,) = truth.incidents
    (site,) = {truth.device(d).site for d in inc.affected_devices}
    assert inc.expectations["sites"] == [site] and site in inc.description
    assert {d.device for d in truth.fleet if d.model == "PX-200" and d.site == site} == set(inc.affected_devices)
