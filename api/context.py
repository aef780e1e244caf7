"""What the routes work with: the configuration and the services `create_app` was given, in one object.

The composition root (`faultline.wiring.api_app`) builds them, or shares
those of ``faultline run`` (engine, InfluxDB client, alert manager, clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Protocol

from fastapi import Request
from sqlalchemy import Engine

from alerts.alert import Alert
from api.config import ApiConfig
from api.keys import KeyStore
from api.metrics import ApiMetrics
from api.readiness import Readiness
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
    config: ApiConfig
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
    settings: Any = None  # faultline.settings.Settings: the dead-letter replay rebuilds ingest's decoding from it


def context(request: Request) -> ApiContext:
    """FastAPI dependency: the app's context."""
    return request.app.state.ctx
