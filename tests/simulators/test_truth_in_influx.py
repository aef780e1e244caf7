"""End to end: simulator → Mosquitto → `faultline ingest` → InfluxDB agrees with the ground truth."""

import time
import uuid
from collections import Counter

from support.processes import IngestProcess
from support.waiting import wait_until
from influx.client import InfluxClient
from simulators.fleet import Simulation
from simulators.publisher import publish
from simulators.scenario import TelemetrySpec, load_scenario


def stored(client: InfluxClient, measurement: str) -> int:
    rows = client.rows(f'SELECT count("seq") FROM "{measurement}"')
    return rows[0]["count"] if rows else 0


def test_ingested_firmware_regression_matches_the_truth(settings_env, tmp_path):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
    scenario = load_scenario("firmware-regression").model_copy(update={"topic_prefix": prefix})
    sim = Simulation(scenario, devices=40, seed=21, duration_s=86400, topics={"logs", "events", "meta", "status"})
    kinds = Counter(m.topic.rsplit("/", 1)[-1] for m in sim.messages())
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        publish(sim, env["FAULTLINE_MQTT_URL"])
        client = InfluxClient(env["FAULTLINE_INFLUX_URL"], env["FAULTLINE_INFLUX_DB"])
        wait_until(lambda: stored(client, "device_logs") == kinds["logs"]
                   and stored(client, "device_events") == kinds["events"], what="every log line and event stored")
    finally:
        ingest.terminate()

    truth = sim.truth()
    incident = truth.incident("fw-2.1.0-regression")
    marker = incident.root_cause_markers[0]
    lines = client.rows('SELECT * FROM "device_logs" WHERE "code" = $code', params={"code": incident.fault_codes[0]})
    root = {(r["device"], r["time"]): r for r in lines if marker in r["msg"]}
    expected = [o for o in incident.occurrences if o.topic == "logs"]
    assert expected and len(root) == len(expected)
    for occ in expected:
        row = root[(occ.device, occ.ts_ms)]
        assert (row["level"], row["msg"]) == (occ.kind, occ.text)
        assert (row["model"], row["firmware"]) == ("PX-200", "2.1.0"), "tagged with the cohort from the latest meta"
    faults = client.rows('SELECT * FROM "device_events" WHERE "type" = \'fault\' AND "code" = $code',
                         params={"code": incident.fault_codes[0]})
    at = {(r["device"], r["time"]) for r in faults}
    assert {(o.device, o.ts_ms) for o in incident.occurrences if o.kind == "fault"} <= at


def test_ingest_dead_letters_exactly_the_malformed_messages_the_truth_counts(settings_env, tmp_path):
    from database import make_engine
    from faultline.settings import load_settings
    from ingest import deadletters

    prefix = f"sim{uuid.uuid4().hex[:8]}"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
    scenario = load_scenario("malformed").model_copy(update={"topic_prefix": prefix})
    sim = Simulation(scenario, devices=20, seed=8, duration_s=4 * 3600)
    expected = sim.truth().incident("corrupt-payloads").expectations["dead_letters"]
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        summary = publish(sim, env["FAULTLINE_MQTT_URL"])
        engine = make_engine(load_settings(env).sql_url)
        client = InfluxClient(env["FAULTLINE_INFLUX_URL"], env["FAULTLINE_INFLUX_DB"])
        # Corrupt payloads never carry "seq": the valid log lines are the ones that do.
        good_logs = sum(1 for m in sim.messages() if m.topic.endswith("/logs") and b'"seq"' in m.payload)
        wait_until(lambda: deadletters.count(engine) >= expected and stored(client, "device_logs") >= good_logs,
                   what="dead letters and logs stored")
    finally:
        ingest.terminate()
    assert summary.messages > expected > 0
    assert deadletters.count(engine) == expected


def test_ingested_telemetry_shows_the_degradation_the_truth_describes(settings_env, tmp_path):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
    scenario = load_scenario("device-degradation").model_copy(
        update={"topic_prefix": prefix, "telemetry": TelemetrySpec(interval_s=60.0, batch=5)})
    sim = Simulation(scenario, devices=12, seed=6, duration_s=12 * 3600)
    samples = sum(m.payload.count(b'"seq"') for m in sim.messages() if m.topic.endswith("/telemetry"))
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        publish(sim, env["FAULTLINE_MQTT_URL"])
        client = InfluxClient(env["FAULTLINE_INFLUX_URL"], env["FAULTLINE_INFLUX_DB"])
        wait_until(lambda: stored(client, "telemetry") == samples, what="every telemetry sample stored")
    finally:
        ingest.terminate()
    incident = sim.truth().incident("pump-bearing-wear")
    fault_ms = incident.expectations["fault_ms"]

    def mean_vibration(a_ms, b_ms):
        rows = client.rows('SELECT mean("vibration_rms") FROM "telemetry" WHERE "device" = $device '
                           'AND time >= $a AND time < $b',
                           params={"device": incident.device, "a": a_ms * 1_000_000, "b": b_ms * 1_000_000})
        return rows[0]["mean"]

    before = mean_vibration(incident.start_ms - 3_600_000, incident.start_ms)
    at_fault = mean_vibration(fault_ms - 1_800_000, fault_ms)
    assert at_fault - before > 0.6 * incident.expectations["rise"]["vibration_rms"]


def test_future_skewed_timestamps_are_stored_at_receipt_as_the_truth_counts(settings_env, tmp_path):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    env = {**settings_env, "FAULTLINE_MQTT_TOPIC_PREFIX": prefix}
    scenario = load_scenario("clock-skew").model_copy(update={"topic_prefix": prefix})
    sim = Simulation(scenario, devices=20, seed=2, duration_s=3 * 3600)  # ends now: all simulated times are past
    truth = sim.truth()
    ahead, behind = truth.incident("gateway-clock-ahead"), truth.incident("pump-clock-behind")
    assert ahead.expectations["direction"] == "future" and behind.expectations["direction"] == "past"
    objects = {"telemetry": sum(1 for m in sim.messages() if m.topic.endswith("/telemetry")),
               "device_logs": sum(1 for m in sim.messages() if m.topic.endswith("/logs")),
               "device_events": sum(1 for m in sim.messages() if m.topic.endswith("/events"))}
    client = InfluxClient(env["FAULTLINE_INFLUX_URL"], env["FAULTLINE_INFLUX_DB"])
    ingest = IngestProcess(env, tmp_path / "ingest.log").start()
    try:
        published_from_ms = int(time.time() * 1000)
        publish(sim, env["FAULTLINE_MQTT_URL"])
        wait_until(lambda: all(stored(client, m) == n for m, n in objects.items()), what="everything stored")
    finally:
        ingest.terminate()

    def points_since(device: str, since_ms: int) -> int:
        total = 0
        for measurement in objects:
            rows = client.rows(f'SELECT count("seq") FROM "{measurement}" WHERE "device" = $device AND time >= $t',
                               params={"device": device, "t": since_ms * 1_000_000})
            total += rows[0]["count"] if rows else 0
        return total

    # Every skewed gateway timestamp was in the future on arrival: stored at receipt time, after publishing began.
    assert points_since(ahead.device, published_from_ms) == ahead.expectations["skewed_messages"] > 0
    # The three-day-behind pump is stored at its own (plausible, past) times.
    assert points_since(behind.device, published_from_ms) == 0
    rows = client.rows('SELECT count("seq") FROM "device_logs" WHERE "device" = $device AND time < $t',
                       params={"device": behind.device, "t": (truth.start_ms - 86_400_000) * 1_000_000})
    assert rows and rows[0]["count"] > 0
