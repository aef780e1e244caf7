"""The active alerts: pending and firing ones, firing first, the most severe first, then by key.

One read for every reader: `AlertManager.active()` sorts its records with
`active_alerts`, and `StoredAlerts` (what ``faultline api`` serves when no
manager runs in its process) reads the same records from the alert stage's
SQL store (``alert_states``; the manager persists every record it changes)
and sorts them the same way.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Engine

from alerts.alert import Alert
from alerts.lifecycle import LIVE, AlertRecord
from alerts.severity import rank
from alerts.store import SqlAlertStore


def active_alerts(records: Iterable[AlertRecord]) -> list[Alert]:
    """The live records among `records` as alerts, in listing order."""
    live = [r.to_alert() for r in records if r.state in LIVE]
    return sorted(live, key=lambda a: (a.state != "firing", rank(a.severity), a.key))


class StoredAlerts:
    """`active()` over `SqlAlertStore`, read fresh on every call."""

    def __init__(self, engine: Engine):
        self.store = SqlAlertStore(engine)

    def active(self) -> list[Alert]:
        return active_alerts(self.store.load().values())
