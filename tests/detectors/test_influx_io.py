"""Anomalies written to the real InfluxDB, and a cold start warmed up from its history."""

import time

from detectors.anomaly import Anomaly
from detectors.engine import DetectorEngine, EngineConfig
from detectors.sink import AnomalySink
from detectors.warmup import history_records, warm_up
from influx.client import InfluxClient
from influx.line_protocol import encode_line

HOUR = 3_600_000


def test_sink_writes_the_anomalies_measurement(stack, influx_db):
    client = InfluxClient(stack.influx_url, influx_db)
    sink = AnomalySink(client)
    a = Anomaly("cohort_fault_rate", "cohort", "model=PX-200,firmware=2.1.0", "E214", 1_767_230_000_000,
                1_767_200_000_000, 7.5, 0.55, 0.08, 3.0, 86400.0, "11 of 20 devices faulted",
                attribution="firmware=2.1.0", devices=("a", "b"))
    sink.write([a])
    assert sink.written == 1 and sink.pending == []
    (row,) = client.rows('SELECT * FROM "anomalies"')
    assert row["time"] == a.ts_ms
    assert (row["detector"], row["scope"], row["subject"]) == (a.detector, a.scope, a.subject)
    assert (row["score"], row["observed"], row["expected"], row["threshold"]) == (7.5, 0.55, 0.08, 3.0)
    assert (row["code"], row["explanation"], row["attribution"]) == ("E214", a.explanation, "firmware=2.1.0")


def test_sink_keeps_lines_while_influx_is_unreachable(stack, influx_db):
    from detectors.anomaly import Anomaly as A
    from faultline.stack import free_port

    sink = AnomalySink(InfluxClient(f"http://127.0.0.1:{free_port()}", influx_db, timeout=1.0))
    sink.write([A("telemetry", "device", "d1", "", 1_767_230_000_000, 0, 12.0, 1.0, 0.0, 10.0, 0.0, "x")])
    assert len(sink.pending) == 1 and sink.written == 0
    sink.writer = InfluxClient(stack.influx_url, influx_db)
    assert sink.flush() and sink.written == 1
    assert len(sink.writer.rows('SELECT * FROM "anomalies"')) == 1


def test_warm_up_replays_history_into_a_cold_engine(stack, influx_db):
    client = InfluxClient(stack.influx_url, influx_db)
    now = (int(time.time() * 1000) // HOUR) * HOUR
    start = now - 48 * HOUR
    lines = []
    for h in range(48):
        t = start + h * HOUR + 60_000
        for d in ("p1", "p2", "p3"):
            tags = {"device": d, "model": "PX-200", "firmware": "2.0.3", "site": "s1"}
            lines.append(encode_line("telemetry", tags, {"temp_c": 40.0 + h % 3, "seq": h}, t))
        if h % 12 == 0:
            tags = {"device": "p1", "type": "fault", "severity": "major", "model": "PX-200", "firmware": "2.0.3", "site": "s1"}
            lines.append(encode_line("device_events", tags, {"code": "E214", "detail": "{}", "seq": h}, t + 5))
            tags = {"device": "p1", "level": "ERROR", "component": "motor", "model": "PX-200", "firmware": "2.0.3", "site": "s1"}
            lines.append(encode_line("device_logs", tags, {"msg": "overcurrent", "code": "E214", "seq": h}, t + 5))
    client.write("\n".join(lines), precision="ms")

    records = history_records(client, start, now, HOUR)
    assert sum(1 for r in records if type(r).__name__ == "DeviceEvent") == 4
    assert sum(1 for r in records if type(r).__name__ == "LogLine") == 4
    assert {r.device for r in records if type(r).__name__ == "DeviceStatus"} == {"p1", "p2", "p3"}
    assert [r.ts_ms for r in records] == sorted(r.ts_ms for r in records)

    engine = DetectorEngine(EngineConfig(lateness_s=0))
    assert warm_up(engine, client, start, now) == len(records)
    p1 = engine.devices["p1"]
    assert p1.cell == ("PX-200", "2.0.3", "s1", "") and p1.rate is not None and p1.rate.n_windows >= 40
    assert p1.last_code == "E214"
    assert sum(p1.rate._recent) == 4 and sum(engine.devices["p2"].rate._recent) == 0  # the four faulty hours
