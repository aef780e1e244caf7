"""Publishing through the real Mosquitto: what the truth names is what the broker delivered."""

import json
import threading
import uuid

import paho.mqtt.client as mqtt
import pytest

from simulators.fleet import Simulation
from simulators.publisher import PublishError, _Pacer, publish
from simulators.scenario import load_scenario

DEADLINE_S = 60


class Collector:
    """A QoS 1 subscriber on ``{prefix}/#`` that keeps every message it receives."""

    def __init__(self, url_port: int, prefix: str):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.cv = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"collector-{uuid.uuid4().hex[:8]}")
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", url_port)
        self.client.loop_start()
        assert self.subscribed.wait(DEADLINE_S)

    def _on_message(self, client, userdata, msg) -> None:
        with self.cv:
            self.messages.append((msg.topic, msg.payload, msg.retain))
            self.cv.notify_all()

    def wait_for(self, count: int) -> list[tuple[str, bytes, bool]]:
        with self.cv:
            assert self.cv.wait_for(lambda: len(self.messages) >= count, DEADLINE_S), (len(self.messages), count)
            return list(self.messages)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sim_with_prefix(name: str, prefix: str, **kw) -> Simulation:
    scenario = load_scenario(name).model_copy(update={"topic_prefix": prefix})
    return Simulation(scenario, **kw)


def index(received):
    """(topic, ts_ms) -> decoded objects, for every JSON message received."""
    by_key: dict[tuple[str, int], list] = {}
    for topic, payload, _ in received:
        if topic.endswith("/status"):
            by_key.setdefault((topic, -1), []).append(payload.decode())
            continue
        try:
            body = json.loads(payload)
        except ValueError:
            continue
        for obj in body if isinstance(body, list) else [body]:
            if isinstance(obj, dict) and isinstance(obj.get("ts"), float):
                by_key.setdefault((topic, round(obj["ts"] * 1000)), []).append(obj)
    return by_key


def assert_occurrences_were_sent(truth, received, incident_id):
    incident = truth.incident(incident_id)
    assert incident.occurrences, "the incident must have caused messages in this run"
    sent = index(received)
    for occ in incident.occurrences:
        topic = f"{truth.topic_prefix}/{occ.device}/{occ.topic}"
        if occ.topic == "status":
            assert occ.kind in sent.get((topic, -1), []), occ
            continue
        objs = sent.get((topic, occ.ts_ms), [])
        if occ.topic == "logs":
            assert any(o["msg"] == occ.text and o["level"] == occ.kind and o["code"] == occ.code for o in objs), occ
        else:
            assert any(o["type"] == occ.kind and o["code"] == occ.code for o in objs), occ


def test_firmware_regression_truth_matches_what_the_broker_delivered(stack):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    sim = sim_with_prefix("firmware-regression", prefix, devices=60, seed=21, duration_s=2 * 86400,
                          topics={"logs", "events", "meta", "status"})
    expected = sum(1 for _ in sim.messages())
    collector = Collector(stack.mqtt_port, prefix)
    try:
        summary = publish(sim, stack.mqtt_url, speed=0)
        received = collector.wait_for(expected)
    finally:
        collector.close()
    assert summary.messages == expected == len(received)
    truth = sim.truth()
    assert_occurrences_were_sent(truth, received, "fw-2.1.0-regression")
    incident = truth.incident("fw-2.1.0-regression")
    root_lines = [(t, json.loads(p)) for t, p, _ in received if t.endswith("/logs")
                  and incident.root_cause_markers[0].encode() in p]
    assert {t.split("/")[1] for t, _ in root_lines} <= set(incident.affected_devices)
    assert len(root_lines) == sum(o.topic == "logs" for o in incident.occurrences)


def test_device_incidents_and_last_will_reach_the_broker(stack):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    sim = sim_with_prefix("mixed-incidents", prefix, devices=40, seed=5, duration_s=86400,
                          topics={"logs", "events", "status"})
    wills = sim.will_devices()
    assert wills
    expected = sum(1 for m in sim.messages())  # a will is delivered by the broker instead of published
    collector = Collector(stack.mqtt_port, prefix)
    try:
        summary = publish(sim, stack.mqtt_url, speed=0)
        received = collector.wait_for(expected)
    finally:
        collector.close()
    assert summary.wills == len(wills)
    truth = sim.truth()
    for incident_id in ("pump-bearing-wear", "condenser-fan-flap", "site-power-loss", "planned-outage"):
        assert_occurrences_were_sent(truth, received, incident_id)
    # The broker keeps the will as the retained status: a late subscriber sees the device offline.
    late = Collector(stack.mqtt_port, prefix)
    try:
        retained = {t: p for t, p, r in late.wait_for(len(sim.fleet)) if t.endswith("/status") and r}
    finally:
        late.close()
    for device in wills:
        assert retained[f"{prefix}/{device}/status"] == b"offline"


def test_publishing_to_a_closed_port_fails_clearly():
    sim = Simulation("healthy", devices=2, seed=1, duration_s=60, start_ms=1_764_000_000_000)
    with pytest.raises(PublishError, match="cannot connect"):
        publish(sim, "mqtt://127.0.0.1:1")


def test_pacer_holds_messages_until_their_simulated_time_is_due():
    now = [100.0]
    pacer = _Pacer(speed=60.0, realtime=False, clock=lambda: now[0], wall=lambda: 0.0)

    def idle(seconds):
        now[0] += seconds

    pacer.wait(1_764_000_000_000, idle)
    assert now[0] == 100.0  # the first message anchors the pace
    pacer.wait(1_764_000_060_000, idle)  # a simulated minute later, at 60x: one second later
    assert now[0] == pytest.approx(101.0, abs=0.005)


def test_realtime_waits_for_the_wall_clock_and_speed_zero_never_waits():
    wall = [1_764_000_000.0]
    realtime = _Pacer(speed=0.0, realtime=True, clock=lambda: 0.0, wall=lambda: wall[0])

    def idle(seconds):
        wall[0] += seconds

    realtime.wait(1_764_000_005_000, idle)
    assert wall[0] == pytest.approx(1_764_000_005.0, abs=0.005)
    fast = _Pacer(speed=0.0, realtime=False, clock=lambda: 0.0, wall=lambda: 0.0)
    fast.wait(10**15, lambda s: pytest.fail("speed 0 must not wait"))


class PersistentCollector:
    """A persistent-session QoS 1 subscriber that reconnects by itself; keeps (topic, seq) of each object."""

    def __init__(self, port: int, prefix: str):
        self.seen: set[tuple[str, int]] = set()
        self.cv = threading.Condition()
        self.subscribed = threading.Event()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"keeper-{uuid.uuid4().hex[:8]}",
                                  clean_session=False)
        self.client.reconnect_delay_set(0.1, 0.5)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(f"{prefix}/#", qos=1)
        self.client.on_subscribe = lambda c, u, mid, rcs, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()
        assert self.subscribed.wait(DEADLINE_S)

    def _on_message(self, client, userdata, msg) -> None:
        try:
            body = json.loads(msg.payload)
        except ValueError:
            return
        with self.cv:
            for obj in body if isinstance(body, list) else [body]:
                if isinstance(obj, dict) and "seq" in obj:
                    self.seen.add((msg.topic, obj["seq"]))
            self.cv.notify_all()

    def wait_for(self, wanted: set) -> set:
        with self.cv:
            self.cv.wait_for(lambda: wanted <= self.seen, DEADLINE_S)
            return set(self.seen)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def sequenced(messages) -> set[tuple[str, int]]:
    out = set()
    for m in messages:
        if m.topic.rsplit("/", 1)[-1] in ("telemetry", "logs", "events"):
            body = json.loads(m.payload)
            out |= {(m.topic, obj["seq"]) for obj in (body if isinstance(body, list) else [body])}
    return out


def test_publishing_loses_nothing_across_a_broker_restart(private_stack):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    sim = sim_with_prefix("healthy", prefix, devices=20, seed=3, duration_s=3 * 3600)
    wanted = sequenced(sim.messages())
    halfway = sum(1 for _ in sim.messages()) // 2
    broker = private_stack.mosquitto

    class RestartHalfway:
        """The run's messages, with the broker restarted (SIGTERM, start) halfway through."""

        def messages(self):
            for i, m in enumerate(sim.messages()):
                if i == halfway:
                    broker.stop()
                    broker.start()
                yield m

    keeper = PersistentCollector(private_stack.mqtt_port, prefix)
    try:
        summary = publish(RestartHalfway(), private_stack.mqtt_url, timeout_s=30)
        seen = keeper.wait_for(wanted)
    finally:
        keeper.close()
    assert summary.messages in (2 * halfway, 2 * halfway + 1)
    assert summary.reconnects >= 1
    assert wanted - seen == set()


def test_qos0_scenarios_are_published_at_qos0(stack):
    prefix = f"sim{uuid.uuid4().hex[:8]}"
    scenario = load_scenario("healthy").model_copy(update={"topic_prefix": prefix, "qos": 0})
    sim = Simulation(scenario, devices=10, seed=2, duration_s=3 * 3600, topics={"telemetry", "logs"})
    expected = sum(1 for m in sim.messages() if m.qos == 0)
    collector = Collector(stack.mqtt_port, prefix)
    try:
        summary = publish(sim, stack.mqtt_url)
        received = collector.wait_for(expected)  # a local broker with room to queue loses none in practice
    finally:
        collector.close()
    assert summary.messages == expected == len(received) > 1000
