"""The simulated fleet: deterministic by seed, realistic fault rates, messages per the device contract."""

import json
import re
from collections import Counter, defaultdict

from simulators.fleet import Simulation
from simulators.models import MODELS
from simulators.truth import GroundTruth

START = 1_764_000_000_000
DEVICE_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


def short_run(scenario: str, seed: int, **kw) -> Simulation:
    return Simulation(scenario, devices=kw.pop("devices", 30), seed=seed, duration_s=kw.pop("duration_s", 4 * 3600),
                      start_ms=START, **kw)


def test_same_seed_gives_identical_bytes():
    first = [(m.ts_ms, m.topic, m.payload, m.qos, m.retain) for m in short_run("firmware-regression", 7).messages()]
    again = [(m.ts_ms, m.topic, m.payload, m.qos, m.retain) for m in short_run("firmware-regression", 7).messages()]
    assert len(first) > 1000
    assert first == again


def test_different_seeds_differ():
    a = [m.payload for m in short_run("healthy", 1).messages()]
    b = [m.payload for m in short_run("healthy", 2).messages()]
    assert a != b


def test_messages_are_in_time_order_and_follow_the_contract():
    messages = list(short_run("firmware-regression", 3).messages())
    assert [m.ts_ms for m in messages] == sorted(m.ts_ms for m in messages)
    last_seq: dict[tuple[str, str], int] = {}
    kinds = Counter()
    for m in messages:
        prefix, device, kind = m.topic.split("/")
        assert prefix == "devices" and DEVICE_ID.match(device)
        kinds[kind] += 1
        if kind == "status":
            assert m.payload in (b"online", b"offline") and m.retain
            continue
        body = json.loads(m.payload)
        if kind == "meta":
            assert m.retain and set(body) == {"model", "firmware", "site", "hw_rev", "customer", "tier"}
            continue
        for obj in body if isinstance(body, list) else [body]:
            assert isinstance(obj["ts"], float) and abs(obj["ts"] * 1000 - m.ts_ms) < 1
            assert obj["seq"] > last_seq.get((device, kind), 0)
            last_seq[(device, kind)] = obj["seq"]
            if kind == "logs":
                assert obj["level"] in ("DEBUG", "INFO", "WARN", "ERROR", "FATAL")
            if kind == "events":
                assert obj["type"] in ("fault", "fault_cleared", "reboot", "maintenance", "firmware_update")
            if kind == "telemetry":
                assert all(isinstance(v, (float, int, bool)) for v in obj["metrics"].values())
    assert set(kinds) == {"telemetry", "logs", "events", "meta", "status"}


def test_restricting_topics_keeps_the_same_faults():
    full = [m for m in short_run("firmware-regression", 5).messages() if m.topic.endswith("/events")]
    only = list(short_run("firmware-regression", 5, topics={"events"}).messages())
    assert [(m.topic, m.payload) for m in only] == [(m.topic, m.payload) for m in full]


def test_truth_round_trips_through_json():
    truth = short_run("firmware-regression", 9).truth()
    assert GroundTruth.from_json(truth.to_json()) == truth
    assert truth.incidents[0].kind == "firmware-regression"


def fault_rates(sim: Simulation) -> dict[tuple[str, str], float]:
    """Fault events per device-day for each (model, firmware) cohort, from the generated messages."""
    model_of = {d.device: d.model for d in sim.fleet}
    firmware = {}
    since = {}
    exposure = defaultdict(float)  # device-days per cohort
    faults = Counter()

    def close(device, ts):
        exposure[(model_of[device], firmware[device])] += (ts - since[device]) / 86_400_000

    for m in sim.messages():
        device, kind = m.topic.split("/")[1:]
        if kind == "meta":
            if device in firmware:
                close(device, m.ts_ms)
            firmware[device], since[device] = json.loads(m.payload)["firmware"], m.ts_ms
        elif kind == "events" and json.loads(m.payload)["type"] == "fault":
            faults[(model_of[device], firmware[device])] += 1
    for device in firmware:
        close(device, sim.end_ms)
    return {cohort: faults[cohort] / days for cohort, days in exposure.items() if days > 50}


def test_regression_cohort_faults_several_fold_while_others_stay_at_base_rate():
    sim = Simulation("firmware-regression", devices=300, seed=11, duration_s=12 * 86400, start_ms=START,
                     topics={"events", "meta"})
    rates = fault_rates(sim)
    base = MODELS["PX-200"].fault_rate_per_day
    assert rates[("PX-200", "2.1.0")] > 4 * base
    for (model, fw), rate in rates.items():
        if fw != "2.1.0":
            assert 0.6 * MODELS[model].fault_rate_per_day < rate < 1.5 * MODELS[model].fault_rate_per_day, (model, fw)


def test_regression_spans_several_sites_and_its_faults_carry_the_marker():
    truth = Simulation("firmware-regression", devices=200, seed=4, duration_s=86400, start_ms=START).truth()
    incident = truth.incident("fw-2.1.0-regression")
    assert len(incident.expectations["sites"]) >= 3
    assert incident.attribution == "firmware=2.1.0"
    assert all(truth.device(d).firmware_at(incident.end_ms - 1) == "2.1.0" for d in incident.affected_devices)
    roots = [o for o in incident.occurrences if o.topic == "logs"]
    assert roots and all(incident.root_cause_markers[0] in o.text for o in roots)
    (ticket,) = incident.tickets
    assert ticket.scope == "cohort" and set(ticket.children) <= set(incident.affected_devices)


def test_output_does_not_depend_on_the_rendering_chunk():
    def run(chunk_s):
        sim = Simulation("mixed-incidents", devices=20, seed=3, duration_s=6 * 3600, start_ms=START, chunk_s=chunk_s)
        return [(m.ts_ms, m.topic, m.payload) for m in sim.messages()]

    assert run(600) == run(3600)
