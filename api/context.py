"""What the routes work with: the services `create_app` wired, in one object.

The composition root (``faultline run``) may inject its own engine, InfluxDB
client, alert manager and clock so the API shares them; ``faultline api``
builds its own from the settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from fastapi import Request
from sqlalchemy import Engine

from alerts.alert import Alert
from api.keys import KeyStore
from api.metrics import ApiMetrics
from api.readiness import Readiness
from faultline.settings import Settings
from tickets.workflow import Workflow


class InfluxReader(Protocol):
    """The part of `influx.client.InfluxClient` the API uses."""

    def ping(self, timeout: float | None = None) -> Any: ...

    def rows(self, q: str, params: dict | None = None, epoch: str = "ms") -> list[dict]: ...


class ActiveAlerts(Protocol):
    """The part of `alerts.manager.AlertManager` the API uses."""

    def active(self) -> list[Alert]: ...


@dataclass(frozen=True, slots=True)
class ApiContext:
    settings: Settings
    engine: Engine
    keys: KeyStore
    influx: InfluxReader
    alerts: ActiveAlerts
    workflow: Workflow
    now: Callable[[], int]  # epoch milliseconds
    metrics: ApiMetrics
    readiness: Readiness
    tickets: Any = None  # tickets.service.TicketService: customer reports open tickets through it
    users: Any = None  # api.users.UserStore
    sessions: Any = None  # api.sessions.SessionStore
    throttle: Any = None  # api.sessions.SignInThrottle


def context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context."""
    return request.app.state.ctx
