"""Fixtures for the alerting stage: a driven clock, a migrated SQL database, anomalies."""

from __future__ import annotations

from dataclasses import replace

import pytest

from alerts.config import AlertConfig
from alerts.manager import AlertManager
from alerts.store import SqlAlertStore
from detectors.anomaly import Anomaly
from database import make_engine, migrate
from support.clock import Clock
from support.postgres import postgres_database
from support.sqlite import migrated_sqlite


class LineRecorder:
    """An `EventWriter` that keeps the lines (transport seam for unit tests)."""

    def __init__(self):
        self.lines: list[str] = []

    def write_lines(self, lines: list[str]) -> None:
        self.lines.extend(lines)

    def of(self, key: str) -> list[str]:
        tag = key.replace(",", "\\,").replace("=", "\\=").replace(" ", "\\ ")
        return [line for line in self.lines if line.startswith(f"alert_events,alert={tag},")]

    def texts(self, key: str) -> list[str]:
        return [line.split(',text="')[1].split('"')[0] for line in self.of(key)]

    def states(self, key: str) -> list[str]:
        return [line.split(",state=")[1].split(" ")[0] for line in self.of(key)]


def anomaly(subject="pump-7", code="E214", score=6.0, threshold=3.0, scope="device", detector=None,
            window_s=10.0, ts_ms=0, **kw) -> Anomaly:
    detector = detector or ("cohort_fault_rate" if scope == "cohort" else "device_fault_rate")
    return Anomaly(detector, scope, subject, code, ts_ms, ts_ms, score, score, 1.0, threshold, window_s,
                   f"{score} faults per window vs 1", **kw)


TEST_CONFIG = AlertConfig(min_count=2, pending_s=20.0, resolve_after_s=120.0, flap_window_s=1800.0,
                          flap_start_changes=6, flap_stop_changes=2, repeat_interval_s=900.0)


@pytest.fixture(params=["sqlite", "postgresql"])
def sql_url(request, tmp_path):
    """A migrated, empty SQL database: a SQLite file, or a throwaway PostgreSQL database."""
    if request.param == "sqlite":
        yield migrated_sqlite(tmp_path / "alerts.db")
        return
    with postgres_database("faultline_alerts") as url:
        migrate(url)
        yield url


@pytest.fixture
def sqlite_url(tmp_path):
    return migrated_sqlite(tmp_path / "alerts.db")


@pytest.fixture
def engine(sqlite_url):
    eng = make_engine(sqlite_url)
    yield eng
    eng.dispose()


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def recorder():
    return LineRecorder()


@pytest.fixture
def make_manager(engine, clock, recorder):
    """A manager on the test database; keyword arguments override the test config."""
    def make(**overrides) -> AlertManager:
        return AlertManager(replace(TEST_CONFIG, **overrides), SqlAlertStore(engine), recorder, now=clock)
    return make


@pytest.fixture
def make_anomaly():
    """The `anomaly` factory: a device fault-rate anomaly by default."""
    return anomaly


@pytest.fixture
def drive(clock):
    """Feed anomalies on a schedule and tick every 5 s; collect what goes to tickets.

    ``drive(manager, start_s, until_s, emit)`` walks simulated time from
    `start_s` to `until_s` (seconds after T0, both included); `emit(t)`
    returns the anomalies that arrive at second `t` (a multiple of `step`, 5 s).
    """
    def run(manager: AlertManager, start_s: int, until_s: int, emit=lambda t: (), step: int = 5) -> list:
        out = []
        t = start_s
        while t <= until_s:
            clock.at(t)
            for a in emit(t):
                out.extend(manager.observe(a))
            out.extend(manager.tick())
            t += step
        return out
    return run
