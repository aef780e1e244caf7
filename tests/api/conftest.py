"""API test fixtures: `create_app` on a real SQLite file and the session's real InfluxDB."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.keys import ROLES, KeyStore
from faultline.db import make_engine, migrate
from faultline.settings import load_settings


class Clock:
    """A settable clock (epoch ms) injected as the app's `now`."""

    def __init__(self, ms: int = 1_767_225_600_000):  # 2026-01-01T00:00:00Z
        self.ms = ms

    def __call__(self) -> int:
        return self.ms


@pytest.fixture
def settings(settings_env):
    return load_settings(settings_env)


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
    return create_app(settings, engine=engine, influx=influx, now=clock)


@pytest.fixture
def client(app):
    with TestClient(app) as c:
        yield c
