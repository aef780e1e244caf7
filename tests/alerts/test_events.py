"""alert_events: transitions written to and read back from the real InfluxDB."""

from __future__ import annotations

from dataclasses import replace

from alerts.config import AlertConfig
from alerts.events import InfluxEventWriter
from alerts.manager import EVENT_RETRY_MS, AlertManager
from alerts.store import SqlAlertStore
from influx.client import InfluxClient
from influx.errors import InfluxError
from faultline.stack import free_port


def every_10s(anomalies, start, stop):
    return lambda t: list(anomalies) if start <= t < stop and t % 10 == 0 else []


def config():
    return AlertConfig(min_count=2, pending_s=20.0, resolve_after_s=120.0, cohort_hold_s=0.0)  # cohort resolves too


def test_transitions_read_back_from_influxdb(stack, influx_db, engine, clock, make_anomaly, drive):
    client = InfluxClient(stack.influx_url, influx_db)
    manager = AlertManager(config(), SqlAlertStore(engine), InfluxEventWriter(client), now=clock)
    device = make_anomaly(subject="pump-7", score=13.0)
    cohort = make_anomaly(subject="model=PX-200,firmware=2.1.0", scope="cohort", model="PX-200", firmware="2.1.0",
                          devices=("pump-7",))
    drive(manager, 0, 400, every_10s([device], 0, 60))
    drive(manager, 405, 900, lambda t: every_10s([cohort], 600, 660)(t))

    rows = client.rows("SELECT * FROM alert_events ORDER BY time")
    got = [(r["alert"], r["state"], r["severity"], r["subject"], r["ticket"], r["text"].split(":")[0]) for r in rows]
    assert got == [
        (device.key, "firing", "critical", "pump-7", "", "fired"),
        (device.key, "resolved", "critical", "pump-7", "", "resolved"),
        (cohort.key, "firing", "critical", cohort.subject, "", "fired"),
        (cohort.key, "resolved", "critical", cohort.subject, "", "resolved"),
    ]
    assert rows[0]["time"] == clock.at(20).ms and rows[1]["time"] == clock.at(170).ms
    assert rows[0]["text"].endswith(device.explanation)
    # the key is a tag: Grafana and the API select one alert's history by it
    one = client.rows("SELECT text FROM alert_events WHERE alert = $key", params={"key": cohort.key})
    assert len(one) == 2
    client.close()


class FailingThenWorking:
    """A writer whose first writes fail as a network error would (transport seam)."""

    def __init__(self, failures: int):
        self.failures, self.lines, self.calls = failures, [], 0

    def write_lines(self, lines):
        self.calls += 1
        if self.failures:
            self.failures -= 1
            raise InfluxError("connection refused", retryable=True)
        self.lines.extend(lines)


def test_events_kept_while_influxdb_is_down_and_written_later(engine, clock, make_anomaly, drive):
    writer = FailingThenWorking(failures=1)
    manager = AlertManager(config(), SqlAlertStore(engine), writer, now=clock)
    out = drive(manager, 0, 20, every_10s([make_anomaly()], 0, 60))
    assert [a.state for a in out] == ["firing"] and writer.lines == []  # alerting went on
    drive(manager, 25, 20 + EVENT_RETRY_MS // 1000, every_10s([make_anomaly()], 0, 60))
    assert writer.calls == 2 and len(writer.lines) == 1 and ",state=firing " in writer.lines[0]


def test_unreachable_influxdb_does_not_stop_alerting(engine, clock, make_anomaly, drive):
    client = InfluxClient(f"http://127.0.0.1:{free_port()}", "nowhere", timeout=2.0)
    manager = AlertManager(replace(config(), resolve_after_s=60.0), SqlAlertStore(engine),
                           InfluxEventWriter(client), now=clock)
    out = drive(manager, 0, 200, every_10s([make_anomaly()], 0, 60))
    assert [a.state for a in out] == ["firing", "resolved"]
    assert manager.events_dropped == 0  # both events still waiting for InfluxDB
    client.close()


def test_events_influxdb_refuses_for_good_are_dropped_and_counted(stack, influx_db, engine, clock, make_anomaly,
                                                                   drive):
    client = InfluxClient(stack.influx_url, influx_db)
    client.write(f"alert_events,alert=x text=1.0 {clock.ms}", precision="ms")  # `text` a float in this shard
    manager = AlertManager(config(), SqlAlertStore(engine), InfluxEventWriter(client), now=clock)
    out = drive(manager, 0, 200, every_10s([make_anomaly()], 0, 60))
    assert [a.state for a in out] == ["firing", "resolved"]  # alerting goes on
    assert manager.events_dropped == 2  # the firing and the resolved line, each refused with a type conflict
    client.close()
