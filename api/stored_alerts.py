"""Active alerts read from the alert stage's SQL store (``alert_states``).

``faultline api`` runs without an in-process `AlertManager`; the manager
persists every record it changes, so the store holds the same pending and
firing alerts that `AlertManager.active()` would return, ordered the same way.
"""

from __future__ import annotations

from sqlalchemy import Engine

from alerts.alert import Alert
from alerts.lifecycle import LIVE
from alerts.store import SqlAlertStore

SEVERITY_ORDER = {"critical": 0, "major": 1, "minor": 2, "info": 3}


class StoredAlerts:
    """`active()` over `SqlAlertStore`, read fresh on every call."""

    def __init__(self, engine: Engine):
        self.store = SqlAlertStore(engine)

    def active(self) -> list[Alert]:
        live = [r.to_alert() for r in self.store.load().values() if r.state in LIVE]
        return sorted(live, key=lambda a: (a.state != "firing", SEVERITY_ORDER.get(a.severity, 9), a.key))
