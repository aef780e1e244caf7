"""Fixtures for the influx tests: clients on fresh databases of the shared InfluxDB."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from influx.client import InfluxClient


@pytest.fixture
def fresh_client(stack) -> Callable[[str], InfluxClient]:
    """A factory of clients, each on a new empty database.

    ``stack.new_database`` returns once InfluxDB 1.6 has sent the response
    status, which it does before the statement has run; a write right after
    can then get 404. ``ensure_database`` reads the whole response of its own
    (idempotent) CREATE DATABASE, so the database exists when it returns.
    """

    def make(prefix: str = "t") -> InfluxClient:
        client = InfluxClient(stack.influx_url, stack.new_database(prefix))
        client.ensure_database()
        return client

    return make


@pytest.fixture
def client(fresh_client) -> InfluxClient:
    return fresh_client()
