"""The stages after the detectors: anomalies → alerts → tickets.

Shared by `faultline run` and `faultline detect`. Runs on the thread that
owns the detector engine; a failure here is logged and never stops ingest.
"""

from __future__ import annotations

import logging
from typing import Iterable

from alerts.alert import Alert
from detectors.anomaly import Anomaly

log = logging.getLogger("faultline.alerting")


class AlertingStage:
    def __init__(self, manager, tickets, gate=None):
        self.manager = manager  # alerts.manager.AlertManager
        self.tickets = tickets  # tickets.service.TicketService
        self.gate = gate  # tickets.threshold_feedback.ThresholdGate: thresholds raised by no-fault-found
        self.opened: set[int] = set()

    def handle(self, anomalies: Iterable[Anomaly]) -> list[Alert]:
        anomalies = list(anomalies)
        if self.gate is not None:
            try:
                anomalies = [a for a in anomalies if self.gate.admit(a)]
            except Exception:  # noqa: BLE001 - the store is down: no adjustment applies, nothing is lost
                log.exception("threshold adjustments could not be read")
        if not anomalies:
            return []
        try:
            alerts = self.manager.observe_many(anomalies)
        except Exception:  # noqa: BLE001 - the pipeline goes on; the next anomaly retries
            log.exception("alerting failed for %d anomalies", len(anomalies))
            return []
        self._apply(alerts)
        return alerts

    def tick(self) -> list[Alert]:
        try:
            alerts = self.manager.tick()
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


def build_alerting(settings, engine, client, clock) -> AlertingStage:
    """The alert and ticket stages over one SQL engine and InfluxDB client, alert time from `clock`."""
    from alerts.config import AlertConfig
    from alerts.events import InfluxEventWriter
    from alerts.manager import AlertManager
    from alerts.store import SqlAlertStore
    from tickets.threshold_feedback import ThresholdGate
    from faultline.wiring import ticket_service

    manager = AlertManager(AlertConfig.from_settings(settings), SqlAlertStore(engine), InfluxEventWriter(client),
                           now=clock)
    return AlertingStage(manager, ticket_service(settings, engine, influx=client), ThresholdGate(engine))
