"""The one hand-off after ingest: records → detectors → anomalies → alerts → tickets.

`faultline run` feeds a `Pipeline` the records ingest made durable;
`faultline detect` the records it decodes from its own MQTT session;
`faultline eval` replays a run's anomalies into its alert half
(`Pipeline.alert`). Whoever feeds it, the same steps run in the same order:

1. ``feed(records)``: event times move the event clock (the alert stage's
   ``now``); telemetry, logs, events and device metadata go to the detectors
   (status records are stamped at receipt, not event times: they never
   reach them);
2. ``tick(now_ms)``: the detectors close the windows that ended by
   ``now_ms`` (event time in `faultline run`, wall time once traffic stopped
   in `faultline detect`);
3. what either finds is written to InfluxDB (the anomaly sink), passes the
   threshold gate (thresholds raised by no-fault-found verdicts) and goes to
   the alert manager, whose transitions the ticket service applies;
4. ``sweep()``: the alert manager's timed transitions (pending → firing,
   resolve, forget), applied to tickets; pending anomaly lines retried.

It runs on one thread, the owner of the detector engine. Every step is
guarded by the caller's ``guard`` (`runtime.supervisor.Supervisor.guard`):
a failure is logged and counted and never stops the records behind it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from alerts.alert import Alert
from detectors.anomaly import Anomaly
from ingest.records import EVENT_TIMED, DeviceMeta
from runtime.clock import EventClock

log = logging.getLogger("faultline.pipeline")


def unguarded(step: str, fn: Callable, *args, default=None):
    """``fn(*args)``: the guard of a caller that lets failures raise (a replay in evaluation)."""
    return fn(*args)


class Pipeline:
    """Detectors, anomaly sink, alert manager and ticket service, driven as one.

    ``detectors``: `detectors.engine.DetectorEngine` (None in a replay of
    anomalies); ``anomalies``: `detectors.sink.AnomalySink` (None: not
    stored); ``alerts``: `alerts.manager.AlertManager` and ``tickets``:
    `tickets.service.TicketService` (None: anomalies stop at the sink, as in
    ``faultline detect --no-alerts``); ``gate``:
    `tickets.threshold_feedback.ThresholdGate` or None; ``clock``: the
    `runtime.clock.EventClock` the alert manager reads as ``now``.
    """

    def __init__(self, detectors=None, anomalies=None, alerts=None, tickets=None, gate=None,
                 clock: EventClock | None = None, guard: Callable = unguarded):
        self.detectors = detectors
        self.anomalies = anomalies
        self.alerts = alerts
        self.tickets = tickets
        self.gate = gate
        self.clock = clock if clock is not None else EventClock()
        self.guard = guard
        self.anomaly_count = 0  # anomalies found since start
        self.busy = False  # inside the alert or ticket stage (evidence, SQL)
        self.opened: set[int] = set()  # tickets already logged as opened

    def feed(self, records: Iterable) -> list[Anomaly]:
        """Records in event order through the detectors; what they found is handed on (and returned)."""
        found: list[Anomaly] = []
        for record in records:
            if isinstance(record, EVENT_TIMED):
                self.clock.observe(record.ts_ms)
            elif not isinstance(record, DeviceMeta):
                continue  # status times are receipt times, not event times
            found += self.guard("detector", self.detectors.process, record, default=[])
        self.hand_on(found)
        return found

    def tick(self, now_ms: int) -> list[Anomaly]:
        """Close the detectors' windows that ended by ``now_ms``; what that found is handed on (and returned)."""
        found = self.guard("detector tick", self.detectors.tick, now_ms, default=[])
        self.hand_on(found)
        return found

    def hand_on(self, found: list[Anomaly]) -> None:
        """Anomalies to the sink, then to the alert and ticket stages."""
        if not found:
            return
        self.anomaly_count += len(found)
        if self.anomalies is not None:
            self.guard("anomaly sink", self.anomalies.write, found)
        self.busy = True
        try:
            self.guard("alerting", self.alert, found)
        finally:
            self.busy = False

    def sweep(self) -> list[Alert]:
        """The alert manager's timed transitions on to tickets (and returned); anomaly lines retried."""
        self.busy = True
        try:
            alerts = self.guard("alert sweep", self._sweep, default=[])
        finally:
            self.busy = False
        if self.anomalies is not None:
            self.guard("anomaly flush", self.anomalies.flush)
        return alerts

    def alert(self, anomalies: Iterable[Anomaly]) -> list[Alert]:
        """Anomalies past the threshold gate to the alert manager; its transitions applied to tickets."""
        if self.alerts is None:
            return []
        anomalies = list(anomalies)
        if self.gate is not None:
            try:
                anomalies = [a for a in anomalies if self.gate.admit(a)]
            except Exception:  # noqa: BLE001 - the store is down: no adjustment applies, nothing is lost
                log.exception("threshold adjustments could not be read")
        if not anomalies:
            return []
        try:
            alerts = self.alerts.observe_many(anomalies)
        except Exception:  # noqa: BLE001 - the pipeline goes on; the next anomaly retries
            log.exception("alerting failed for %d anomalies", len(anomalies))
            return []
        self._apply(alerts)
        return alerts

    def _sweep(self) -> list[Alert]:
        if self.alerts is None:
            return []
        try:
            alerts = self.alerts.tick()
        except Exception:  # noqa: BLE001
            log.exception("alert sweep failed")
            return []
        self._apply(alerts)
        return alerts

    def _apply(self, alerts: list[Alert]) -> None:
        for alert in alerts:
            try:
                ticket = self.tickets.apply(alert)
            except Exception:  # noqa: BLE001 - idempotent by key: the next repeat applies it
                log.exception("ticket update failed for %s", alert.key)
                continue
            if ticket is not None and ticket.id not in self.opened:
                self.opened.add(ticket.id)
                log.info("ticket #%s %s: %s", ticket.id, ticket.state, ticket.title)
