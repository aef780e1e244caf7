"""Evidence from a real InfluxDB: log slice (ERROR/FATAL first, bounded), metric window, cohort table."""

from __future__ import annotations

import pytest

from functools import partial

from influx.client import InfluxClient
from ingest import fields
from ingest.registry import DeviceRegistry
from ingest.points import line_for
from ingest.records import Cohort, DeviceEvent, DeviceMeta, LogLine, Telemetry
from support.tickets import make_alert
from tickets.influx_evidence import EvidenceWindow, InfluxEvidence
from tickets.service import TicketService
from tickets.workflow import Workflow

T0 = 1_700_000_000_000  # the alert's last sighting; onset one minute earlier
ONSET = T0 - 60_000
NEW = Cohort("PX-200", "2.1.0", "sh-03")
OLD = Cohort("PX-200", "2.0.3", "sh-03")
OTHER = Cohort("PX-100", "1.0.0", "sh-01")
FLEET = {"pump-1": NEW, "pump-2": NEW, "pump-3": OLD, "pump-4": OLD, "fan-1": OTHER}
LINK = "http://grafana.test/d/faultline-device/device?var-device={device}&from={from_ms}&to={to_ms}"


def _records():
    out = []
    for i in range(100):  # chatter on the subject, spread over the window
        out.append(LogLine("pump-1", ONSET - 600_000 + i * 6_000, i, "INFO", "motor", "", f"cycle {i} ok"))
    out.append(LogLine("pump-1", ONSET + 1_000, 1000, "ERROR", "motor", "E214", "overcurrent on phase B"))
    out.append(LogLine("pump-1", ONSET + 2_000, 1001, "FATAL", "motor", "E215", "motor driver shut down"))
    for i in range(4):
        out.append(LogLine("pump-1", ONSET + 3_000 + i, 1002 + i, "ERROR", "motor", "E214", "overcurrent on phase B"))
    out.append(LogLine("pump-1", ONSET - 3_600_000, 1, "ERROR", "motor", "E999", "an hour before: outside"))
    out.append(LogLine("pump-3", ONSET, 1, "ERROR", "motor", "E100", "another device"))
    for device, temps in (("pump-1", (80.0, 90.0, 100.0)), ("pump-2", (40.0, 50.0, 60.0)),
                          ("pump-3", (30.0, 30.0, 30.0)), ("pump-4", (31.0, 31.0, 31.0)), ("fan-1", (20.0,) * 3)):
        for i, t in enumerate(temps):
            out.append(Telemetry(device, ONSET + i * 10_000, i, {"temp_c": t, "rpm": 1000.0 + i}))
    for device, n in (("pump-1", 6), ("pump-2", 4), ("pump-3", 1), ("fan-1", 9)):
        for i in range(n):
            out.append(DeviceEvent(device, ONSET + i * 1_000, 500 + i, "fault", "E214", "major", "{}"))
    return out


@pytest.fixture
def influx(stack, influx_db):
    client = InfluxClient(stack.influx_url, influx_db)
    lines = []
    for r in _records():
        r = type(r)(**{f: getattr(r, f) for f in r.__slots__ if f != "cohort"}, cohort=FLEET[r.device])
        lines.append(line_for(r))
    client.write("\n".join(lines), precision="ns")
    yield client
    client.close()


def _catalogue(engine):
    """The fleet's registry rows and metric names, as ingest would have recorded them."""
    DeviceRegistry(engine).persist([DeviceMeta(d, 0, c.model, c.firmware, c.site) for d, c in FLEET.items()], [])
    fields.persist(engine, [(r.device, name, 0) for r in _records() if isinstance(r, Telemetry) for name in r.metrics])
    return partial(fields.field_names, engine)


def _service(engine, clock, client, **kw):
    source = InfluxEvidence(client, LINK, EvidenceWindow(before_s=900, after_s=300, log_lines=50), _catalogue(engine))
    return TicketService(engine, source, None, None, now=clock, **kw)


def test_device_ticket_carries_log_slice_metrics_and_link(sqlite_engine, clock, influx):
    t = _service(sqlite_engine, clock, influx).apply(make_alert("pump-1", t_ms=T0))
    ev = t.evidence
    assert ev.complete and ev.errors == () and t.evidence_complete
    assert len(ev.logs) == 50  # bounded
    assert [e.level for e in ev.logs[:6]] == ["ERROR", "FATAL", "ERROR", "ERROR", "ERROR", "ERROR"]
    assert [e.msg for e in ev.logs[6:]] == [f"cycle {i} ok" for i in range(56, 100)]  # the lead-up to onset
    assert {e.device for e in ev.logs} == {"pump-1"}
    assert ev.logs[0] == type(ev.logs[0])(ONSET + 1_000, "pump-1", "ERROR", "motor", "E214", "overcurrent on phase B")
    assert all(ev.window_start_ms <= e.ts_ms < ev.window_end_ms for e in ev.logs)
    assert "E999" not in {e.code for e in ev.logs}
    temp = {m.metric: m for m in ev.metrics}["temp_c"]
    assert (temp.subject.min, temp.subject.mean, temp.subject.max) == (80.0, 90.0, 100.0)
    assert (temp.reference.min, temp.reference.mean, temp.reference.max) == (40.0, 70.0, 100.0)
    assert ev.reference == "model=PX-200,firmware=2.1.0,site=sh-03"
    assert {m.metric for m in ev.metrics} == {"temp_c", "rpm"}
    assert ev.grafana_url == f"http://grafana.test/d/faultline-device/device?var-device=pump-1" \
                             f"&from={ONSET - 900_000}&to={T0 + 300_000}"
    assert (ev.explanation.observed, ev.explanation.expected, ev.explanation.threshold) == (12.0, 2.0, 5.0)


def test_cohort_ticket_compares_firmware_within_the_model(sqlite_engine, clock, influx):
    alert = make_alert("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate",
                       t_ms=T0, attribution="firmware=2.1.0", devices=("pump-1", "pump-2"))
    ev = _service(sqlite_engine, clock, influx).apply(alert).evidence
    assert ev.complete, ev.errors
    rows = {r.value: r for r in ev.cohort}
    assert set(rows) == {"2.1.0", "2.0.3"}  # PX-100 is another model
    # faults = fault events + ERROR/FATAL log lines in the window; devices active in the window
    assert (rows["2.1.0"].devices, rows["2.1.0"].faults, rows["2.1.0"].flagged) == (2, 6 + 4 + 6, True)
    assert (rows["2.0.3"].devices, rows["2.0.3"].faults, rows["2.0.3"].flagged) == (2, 1 + 1, False)
    assert rows["2.1.0"].rate == 8.0 and rows["2.0.3"].rate == 1.0
    assert [r.value for r in ev.cohort] == ["2.1.0", "2.0.3"]  # worst first
    assert ev.devices == ("pump-1", "pump-2")
    assert {e.device for e in ev.logs} == {"pump-1"} and ev.logs[0].level == "ERROR"
    temp = {m.metric: m for m in ev.metrics}["temp_c"]
    assert (temp.subject.mean, temp.reference.mean) == (70.0, 50.25)  # the cohort against its model


def test_influx_down_still_opens_the_ticket_and_refresh_completes_it(sqlite_engine, clock, stack, influx):
    down = InfluxClient("http://127.0.0.1:9", "nowhere", timeout=2)
    t = _service(sqlite_engine, clock, down).apply(make_alert("pump-1", t_ms=T0))
    assert t.state == "open" and not t.evidence_complete
    assert t.evidence.logs == () and any("retryable" in e for e in t.evidence.errors)
    assert t.evidence.explanation.score == 8.0  # what was known is kept
    refreshed = _service(sqlite_engine, clock, influx).refresh_incomplete_evidence()
    assert refreshed == 1
    again = Workflow(sqlite_engine, now=clock).comment(t.id, "bob", "looking")
    assert again.evidence_complete and len(again.evidence.logs) == 50


def test_similar_past_tickets_come_with_their_resolution(sqlite_engine, clock, influx):
    svc = _service(sqlite_engine, clock, influx)
    flow = Workflow(sqlite_engine, now=clock)
    past = svc.apply(make_alert("pump-1", t_ms=T0))
    flow.resolve(past.id, "alice", "worn motor bearing", "replaced the bearing")
    unrelated = svc.apply(make_alert("fan-1", code="E500", t_ms=T0, model="PX-100", firmware="1.0.0"))
    flow.resolve(unrelated.id, "alice", "dust filter clogged", "cleaned the filter")
    clock.advance(30 * 86_400)
    now = svc.apply(make_alert("pump-2", t_ms=T0))
    similar = now.evidence.similar
    assert [s.ticket_id for s in similar][:1] == [past.id]
    assert (similar[0].root_cause, similar[0].resolution) == ("worn motor bearing", "replaced the bearing")
    assert similar[0].score > (similar[1].score if len(similar) > 1 else 0)


def test_a_repeat_refreshes_stale_evidence_with_new_lines(sqlite_engine, clock, influx):
    svc = _service(sqlite_engine, clock, influx)
    t = svc.apply(make_alert("pump-2", t_ms=T0))
    assert t.evidence.logs == ()
    influx.write(line_for(LogLine("pump-2", T0 + 1_000, 7, "ERROR", "valve", "E300", "valve stuck open",
                                  NEW)), precision="ns")
    clock.advance(60)
    same = svc.apply(make_alert("pump-2", t_ms=T0 + 2_000))
    assert same.evidence.logs == () and same.evidence_ms == t.evidence_ms  # fresh enough: kept
    clock.advance(300)
    later = svc.apply(make_alert("pump-2", t_ms=T0 + 3_000))
    assert [(e.code, e.msg) for e in later.evidence.logs] == [("E300", "valve stuck open")]
    assert later.evidence_ms == clock()


def test_influx_unreachable_costs_one_attempt_not_one_per_part(sqlite_engine, clock):
    calls = []

    class Refusing:
        def rows(self, q, params=None, epoch="ms"):
            calls.append(q)
            from influx.errors import InfluxError
            raise InfluxError("InfluxDB query: connection refused", None, retryable=True)

    alert = make_alert("model=PX-200,firmware=2.1.0", scope="cohort", detector="cohort_fault_rate", t_ms=T0)
    t = _service(sqlite_engine, clock, Refusing()).apply(alert)
    assert len(calls) == 1 and not t.evidence_complete
    assert [e.split(":")[0] for e in t.evidence.errors] == ["logs", "metrics", "cohort"]


def test_an_error_storm_keeps_the_lines_nearest_onset_on_both_sides(sqlite_engine, clock, influx):
    storm = [LogLine("pump-4", ONSET + k * 1_000, 2000 + k, "ERROR", "pump", "E410", f"pressure loss {k}", OLD)
             for k in range(-40, 40)]
    influx.write("\n".join(line_for(r) for r in storm), precision="ns")
    ev = _service(sqlite_engine, clock, influx).apply(make_alert("pump-4", t_ms=T0, firmware="2.0.3")).evidence
    assert [e.msg for e in ev.logs] == [f"pressure loss {k}" for k in range(-25, 25)]


def test_a_whole_model_cohort_is_compared_with_the_fleet(sqlite_engine, clock, influx):
    alert = make_alert("model=PX-200", scope="cohort", detector="cohort_fault_rate", t_ms=T0,
                       attribution="model=PX-200", firmware="", site="")
    ev = _service(sqlite_engine, clock, influx).apply(alert).evidence
    temp = {m.metric: m for m in ev.metrics}["temp_c"]
    assert (ev.reference, temp.subject.mean, temp.reference.mean) == ("fleet", 50.25, 44.2)  # (603 + 3 x 20) / 15
    # PX-100: 9 faults on 1 device; PX-200: 11 events + 7 ERROR/FATAL lines on 4 devices
    assert [(r.value, r.rate, r.flagged) for r in ev.cohort] == [("PX-100", 9.0, False), ("PX-200", 4.5, True)]


def test_long_messages_are_cut_in_the_evidence(sqlite_engine, clock, influx):
    line = LogLine("fan-1", ONSET, 99, "FATAL", "fan", "E900", "x" * 5000, OTHER)
    influx.write(line_for(line), precision="ns")
    ev = _service(sqlite_engine, clock, influx).apply(make_alert("fan-1", t_ms=T0, model="PX-100")).evidence
    assert [(e.level, len(e.msg)) for e in ev.logs] == [("FATAL", 500)]
