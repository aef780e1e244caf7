"""The seam from the alerting stage: a real AlertManager's output applied to the ticket store.

Anomalies go through `alerts.manager.AlertManager` (SQL state, transitions
written to the real InfluxDB), and every alert it hands over is applied by
`TicketService`: a device incident, then a cohort incident that takes the
device in, then quiet until both resolve.
"""

from __future__ import annotations

from influx.client import InfluxClient
from alerts.config import AlertConfig
from alerts.events import InfluxEventWriter
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from detectors.anomaly import Anomaly
from support.clock import Clock
from tickets import store
from tickets.service import TicketService

COHORT = "model=PX-200,firmware=2.1.0"


def _anomaly(scope: str, subject: str, ts_ms: int) -> Anomaly:
    detector = "cohort_fault_rate" if scope == "cohort" else "device_fault_rate"
    return Anomaly(detector, scope, subject, "E214", ts_ms, ts_ms, 9.0, 9.0, 1.0, 3.0, 10.0,
                   "9 faults per window vs 1", "firmware=2.1.0" if scope == "cohort" else "",
                   ("pump-1", "pump-2") if scope == "cohort" else (), "PX-200", "2.1.0", "sh-03")


def test_alert_manager_output_drives_the_tickets(sqlite_engine, stack, influx_db):
    clock = Clock(1_767_225_600_000)
    client = InfluxClient(stack.influx_url, influx_db)
    manager = AlertManager(AlertConfig(min_count=2, pending_s=20, resolve_after_s=60, cohort_hold_s=0),
                           SqlAlertStore(sqlite_engine), InfluxEventWriter(client), now=clock)
    tickets = TicketService(sqlite_engine, None, None, None, now=clock)
    applied = []

    def feed(scope: str, subject: str, seconds: int) -> None:
        for _ in range(0, seconds, 10):
            clock.advance(10)
            for alert in manager.observe(_anomaly(scope, subject, clock())) + manager.tick():
                applied.append(alert)
                tickets.apply(alert)

    feed("device", "pump-1", 60)
    device_ticket = store.find_by_key(sqlite_engine, _anomaly("device", "pump-1", 0).key)
    assert device_ticket is not None and device_ticket.state == "open"
    feed("cohort", COHORT, 60)
    cohort_ticket = store.find_by_key(sqlite_engine, _anomaly("cohort", COHORT, 0).key)
    assert any(a.parent_key == cohort_ticket.key for a in applied)  # the device was taken in
    assert store.get_ticket(sqlite_engine, device_ticket.id).merged_into == cohort_ticket.id
    assert {"pump-1", "pump-2"} <= set(store.get_ticket(sqlite_engine, cohort_ticket.id).devices)
    for _ in range(30):  # quiet: the manager resolves, the unacknowledged ticket auto-resolves
        clock.advance(10)
        for alert in manager.tick():
            applied.append(alert)
            tickets.apply(alert)
    assert store.get_ticket(sqlite_engine, cohort_ticket.id).state == "resolved"
    assert [t.id for t in store.list_tickets(sqlite_engine)] == [cohort_ticket.id]
    rows = client.rows("SELECT count(text) FROM alert_events")
    assert rows and rows[0]["count"] >= 3  # device fired, cohort fired, cohort resolved
    client.close()
