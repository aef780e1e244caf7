"""API test fixtures: `faultline.wiring.api_app` on a real SQL database and the session's real InfluxDB.

The database is a SQLite file; modules marked ``@pytest.mark.sql("sqlite",
"postgresql")`` run on a throwaway PostgreSQL database as well (skipped
when no PostgreSQL answers on 127.0.0.1:5432).
"""

from __future__ import annotations


import pytest
from fastapi.testclient import TestClient

from faultline.wiring import api_app
from api.keys import ROLES, KeyStore
from database import make_engine, migrate
from faultline.settings import load_settings
from support.clock import Clock
from support.postgres import postgres_database


def pytest_configure(config):
    config.addinivalue_line("markers", "sql(*kinds): run on these SQL databases (sqlite, postgresql)")


def pytest_generate_tests(metafunc):
    if "database" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("sql")
        metafunc.parametrize("database", marker.args if marker else ("sqlite",), indirect=True)


@pytest.fixture
def database(request):
    """The SQL URL under test: "" for the default SQLite file in the data dir, or a PostgreSQL one."""
    if request.param == "sqlite":
        yield ""
        return
    with postgres_database("faultline_api") as url:
        yield url


@pytest.fixture
def settings(settings_env, database):
    return load_settings(dict(settings_env, FAULTLINE_DATABASE_URL=database,
                              FAULTLINE_TICKETS_SATISFACTION_SECRET="test-link-secret"))


@pytest.fixture
def engine(settings):
    migrate(settings.sql_url)
    eng = make_engine(settings.sql_url)
    yield eng
    eng.dispose()


@pytest.fixture
def influx(settings):
    from influx.client import InfluxClient

    return InfluxClient(settings.influx_url, settings.influx_db)


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def api_keys(engine, clock) -> dict[str, str]:
    """One active key per role: role -> plain key."""
    store = KeyStore(engine, clock)
    return {role: store.create(f"{role} key", role)[1] for role in ROLES}


@pytest.fixture
def auth(api_keys):
    """`auth("technician")` -> headers carrying that role's key."""
    return lambda role: {"Authorization": f"Bearer {api_keys[role]}"}


@pytest.fixture
def app(settings, engine, influx, clock):
    return api_app(settings, engine=engine, influx=influx, now=clock)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c


def _alert(subject: str, code: str = "E214", *, severity: str = "major", scope: str = "device",
               state: str = "firing", model: str = "PX-200", firmware: str = "2.1.0", site: str = "sh-03",
               devices: tuple[str, ...] = (), parent_key: str | None = None, at_ms: int = 0,
               detector: str = "device_fault_rate"):
    """A real `Alert` as the alert stage hands it to the ticket stage."""
    from alerts.alert import Alert
    from detectors.anomaly import Anomaly

    anomaly = Anomaly(detector, scope, subject, code, at_ms, at_ms, 5.0, 12.0, 1.0, 3.0, 600.0,
                      f"{code} rate {12.0} vs {1.0} expected", devices=devices,
                      model=model, firmware=firmware, site=site)
    return Alert(anomaly.key, detector, scope, subject, code, severity, state, at_ms, at_ms,
                 at_ms if state == "resolved" else None, 1, False, anomaly, parent_key=parent_key)


@pytest.fixture
def make_alert():
    """`make_alert("pump-1", code=..., ...)` -> a real `Alert`."""
    return _alert


@pytest.fixture
def ticket_service(engine, clock):
    """The real ticket service on the test database (no evidence source, no webhooks)."""
    from tickets.service import TicketService

    return TicketService(engine, now=clock)


@pytest.fixture
def open_ticket(ticket_service, clock):
    """`open_ticket("pump-1", code=..., ...)` -> the id of the ticket the alert opened."""

    def opener(subject: str, code: str = "E214", **kw) -> int:
        ticket = ticket_service.apply(_alert(subject, code, at_ms=clock.ms, **kw))
        assert ticket is not None
        return ticket.id

    return opener


@pytest.fixture
def registered(engine, clock):
    """`registered("pump-1", model=..., firmware=..., site=..., customer=...)`: a device in the registry."""
    from ingest.records import DeviceMeta
    from ingest.registry import DeviceRegistry

    def register(device: str, model: str = "PX-200", firmware: str = "2.1.0", site: str = "sh-03", **kw) -> None:
        DeviceRegistry(engine).persist([DeviceMeta(device, clock.ms - 60_000, model, firmware, site, **kw)], [])

    return register
