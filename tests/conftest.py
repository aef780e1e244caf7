"""Session fixtures: a real Mosquitto and a real InfluxDB on free ports in a temp dir.

Tests that stop, kill or restart a service use the function-scoped
``private_stack`` so the shared one stays up for everyone else.
"""

from __future__ import annotations

import inspect
import os
import shutil
import uuid

import pytest

from support.processes import TestStack, start_stack
from support.publishing import publish_all


@pytest.fixture(scope="session")
def stack(tmp_path_factory) -> TestStack:
    """Shared services for the whole session (never stopped by a test)."""
    for tool in ("mosquitto", "influxd"):
        if not (shutil.which(tool) or os.path.exists(f"/usr/sbin/{tool}")):
            pytest.fail(f"{tool} is not installed: run `make test` (it installs it) or apt-get install mosquitto influxdb")
    s = start_stack(tmp_path_factory.mktemp("stack"))
    yield s
    s.stop()


@pytest.fixture
def private_stack(tmp_path) -> TestStack:
    """Services for one test that stops, kills or restarts them."""
    s = start_stack(tmp_path / "stack")
    yield s
    s.stop()


@pytest.fixture
def influx_db(stack) -> str:
    """A fresh database on the shared InfluxDB."""
    return stack.new_database()


@pytest.fixture
def settings_env(stack, influx_db, tmp_path) -> dict[str, str]:
    """FAULTLINE_* environment pointing at the shared stack and a fresh database."""
    return {
        "FAULTLINE_MQTT_URL": stack.mqtt_url,
        "FAULTLINE_MQTT_CLIENT_ID": f"faultline-test-{uuid.uuid4().hex[:8]}",
        "FAULTLINE_INFLUX_URL": stack.influx_url,
        "FAULTLINE_INFLUX_DB": influx_db,
        "FAULTLINE_DATA_DIR": str(tmp_path / "data"),
    }


@pytest.fixture
def publish(stack):
    """publish(messages) → count, on the shared broker with QoS 1."""
    return lambda messages, **kw: publish_all(stack.mqtt_url, messages, **kw)


# --- the fast lane: `pytest -m "not integration"` ----------------------------------------

REAL_SERVICE_FIXTURES = frozenset({"stack", "private_stack", "pg_url"})  # and every fixture built on them
# names whose use starts a process: Mosquitto, InfluxDB, a faultline child, Chromium, a command-line tool
PROCESS_STARTERS = frozenset({"Mosquitto", "Influxd", "LocalStack", "IngestProcess", "ServiceProcess", "faultline_cli",
                              "subprocess", "sync_playwright"})


def pytest_collection_modifyitems(config, items):
    """Mark `integration` every test that needs a real service: the session's broker or InfluxDB
    (directly or through a fixture built on them), a PostgreSQL database (a `postgresql` parameter),
    or a process it starts itself (in the test, a fixture it uses, or a function of its module they call)."""
    for item in items:
        if _needs_a_service(item):
            item.add_marker(pytest.mark.integration)


def _needs_a_service(item) -> bool:
    names = set(getattr(item, "fixturenames", ()))
    if names & REAL_SERVICE_FIXTURES:
        return True
    if "postgresql" in getattr(getattr(item, "callspec", None), "params", {}).values():
        return True
    functions = [getattr(item, "function", None)]
    definitions = getattr(getattr(item, "_fixtureinfo", None), "name2fixturedefs", {})
    functions += [fixturedef.func for name in names for fixturedef in definitions.get(name, ())]
    seen: set = set()
    return any(_starts_a_process(fn, seen) for fn in functions if fn is not None)


def _starts_a_process(fn, seen: set) -> bool:
    fn = inspect.unwrap(fn)
    code = getattr(fn, "__code__", None)
    if code is None or code in seen:
        return False
    seen.add(code)
    for names in _names_used(code):
        if names & PROCESS_STARTERS:
            return True
        for name in names:  # functions of the same module it calls
            target = fn.__globals__.get(name)
            if inspect.isfunction(target) and target.__module__ == fn.__module__ and _starts_a_process(target, seen):
                return True
    return False


def _names_used(code):
    yield set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):  # nested functions and lambdas
            yield from _names_used(const)
