"""Alert noise against Alertmanager: the peer's scenarios through alerts → tickets.

Replays the scenarios measured with the real Alertmanager 0.25
(shared/peers/alertmanager: steady incident, 40 s on / 40 s off flapping over
8 cycles, a 50-device storm with the cohort alert 10 s late or first, a
restart midway) through `AlertManager` and the real `TicketService` on a
temporary SQLite database, on a simulated clock (runs in a second), and
prints one JSON line per scenario and configuration: tickets opened,
reopened (recurrences), device tickets (in the storms: opened on their own
instead of joining the cohort's, merged later or not), and whether the ticket is marked flapping, next to
what the Alertmanager bridge produced.

    .venv/bin/python bench/alert_noise.py

Two configurations: Faultline's defaults, and a quiet period scaled down
like the peer's (resolve_timeout 20 s), where 40 s gaps are long enough to
resolve before flapping is recognised.
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import replace
from pathlib import Path

from sqlalchemy import text

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from detectors.anomaly import Anomaly
from database import make_engine, migrate
from tickets.service import TicketService

T0 = 1_767_225_600_000
ALERTMANAGER = {  # tickets a one-issue-per-group bridge opened (peer README)
    "steady": {"tickets": 1, "reopened": 0},
    "flapping": {"tickets": 1, "reopened": 7},
    "storm_cohort_10s_late": {"tickets": 2, "leaked_device_alerts": 8},
    "storm_cohort_first": {"tickets": 1},
    "restart_midway": {"note": "two unclustered instances: every notification doubled"},
}
DEVICES = [f"pump-{i:02d}" for i in range(50)]
COHORT = "model=PX-200,firmware=2.1.0"


class Discard:
    def write_lines(self, lines):
        pass


def device(name: str, ts: int) -> Anomaly:
    return Anomaly("device_fault_rate", "device", name, "E214", ts, ts, 9.0, 9.0, 1.0, 6.0, 10.0,
                   "faults above baseline", model="PX-200", firmware="2.1.0", site="sh-03")


def cohort(ts: int) -> Anomaly:
    return Anomaly("cohort_fault_rate", "cohort", COHORT, "E214", ts, ts, 9.0, 0.5, 0.05, 6.0, 10.0,
                   "firmware 2.1.0 faults 10x the fleet", devices=tuple(DEVICES), model="PX-200", firmware="2.1.0")


def steady(t: int, ts: int) -> list[Anomaly]:
    return [device("pump-07", ts)] if t < 300 and t % 10 == 0 else []


def flapping(t: int, ts: int) -> list[Anomaly]:
    return [device("pump-07", ts)] if t < 640 and t % 80 < 40 and t % 10 == 0 else []


def storm(cohort_at: int):
    """Devices arrive spread over 20 s (as the peer's driver), then repeat every 10 s for 120 s."""
    arrive = {d: round(20 * i / 49) for i, d in enumerate(DEVICES)}

    def emit(t: int, ts: int) -> list[Anomaly]:
        if t >= 140:
            return []
        out = [device(d, ts) for d, at in arrive.items() if t >= at and (t - at) % 10 == 0]
        return out + ([cohort(ts)] if t >= cohort_at and (t - cohort_at) % 10 == 0 else [])
    return emit


def run(config: AlertConfig, emit, until: int, restart_at: int | None = None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        migrate(url)
        engine = make_engine(url)
        clock = [T0]
        tickets = TicketService(engine, now=lambda: clock[0])
        manager = AlertManager(config, SqlAlertStore(engine), Discard(), now=lambda: clock[0])
        for t in range(0, until + 1):
            clock[0] = T0 + t * 1000
            if t == restart_at:
                manager = AlertManager(config, SqlAlertStore(engine), Discard(), now=lambda: clock[0])
            for alert in manager.observe_many(emit(t, clock[0])) + manager.tick():
                tickets.apply(alert)
        result = count(engine)
        engine.dispose()
        return result


def count(engine) -> dict:
    with engine.connect() as conn:
        rows = conn.execute(text("SELECT scope, recurrences, flapping, merged_into FROM tickets")).all()
    return {
        "tickets": sum(1 for r in rows if r.merged_into is None),
        "reopened": sum(r.recurrences for r in rows),
        "device_tickets": sum(1 for r in rows if r.scope == "device"),
        "flapping": any(r.flapping for r in rows),
    }


def main() -> None:
    configs = {"defaults": AlertConfig(), "resolve_20s": replace(AlertConfig(), resolve_after_s=20.0)}
    scenarios = {
        "steady": (steady, 1200, None),
        "flapping": (flapping, 2400, None),
        "storm_cohort_10s_late": (storm(10), 900, None),
        "storm_cohort_first": (storm(-20), 900, None),
        "restart_midway": (steady, 1200, 150),
    }
    for name, (emit, until, restart_at) in scenarios.items():
        for label, config in configs.items():
            result = run(config, emit, until, restart_at)
            print(json.dumps({"scenario": name, "config": label, "faultline": result,
                              "alertmanager": ALERTMANAGER[name]}))


if __name__ == "__main__":
    main()
