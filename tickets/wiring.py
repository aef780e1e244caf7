"""The ticket stage built from settings: service, workflow, outbox, router.

The one place where the stage's concrete parts meet (InfluxDB client, device
registry, routing file, webhook). Nothing here runs at import.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import partial
from typing import Callable

from sqlalchemy import Engine

from faultline.settings import Settings
from tickets.influx_evidence import EvidenceWindow, InfluxEvidence
from tickets.routing import Router
from tickets.service import TicketService
from tickets.webhook import Outbox
from tickets.workflow import Workflow


def _wall_ms() -> int:
    return int(time.time() * 1000)


def build_router(settings: Settings) -> Router | None:
    """The routing rules, or None when no file is configured (`RoutingError` if it is bad)."""
    return Router.from_file(settings.tickets_routing_file) if settings.tickets_routing_file else None


def build_outbox(settings: Settings, engine: Engine, now: Callable[[], int] = _wall_ms) -> Outbox | None:
    """The webhook outbox, or None when no webhook URL is configured."""
    if not settings.tickets_webhook_url:
        return None
    return Outbox(engine, settings.tickets_webhook_url, settings.tickets_webhook_secret.get_secret_value(), now=now)


def build_evidence(settings: Settings, client=None, engine: Engine | None = None) -> InfluxEvidence:
    """Evidence from InfluxDB; with `engine`, metric windows name the devices' own metrics (their catalogue)."""
    if client is None:
        from influx.client import InfluxClient

        client = InfluxClient(settings.influx_url, settings.influx_db, settings.influx_user,
                              settings.influx_password.get_secret_value(), timeout=settings.influx_timeout_s)
    return InfluxEvidence(client, settings.tickets_grafana_link,
                          EvidenceWindow(log_lines=settings.tickets_evidence_log_lines), _field_names(engine))


def _field_names(engine: Engine | None):
    try:
        from ingest.fields import field_names
    except ImportError:  # a deployment without the ingest stage's catalogue
        return None
    return partial(field_names, engine) if engine is not None else None


def _registry(engine: Engine):
    try:
        from ingest.registry import lookup
    except ImportError:  # a deployment without the ingest stage's registry
        return None
    return partial(lookup, engine)


def build_service(settings: Settings, engine: Engine, *, now: Callable[[], int] = _wall_ms,
                  influx_client=None) -> TicketService:
    """`TicketService` wired from settings (InfluxDB evidence, routing, webhook, registry)."""
    return TicketService(
        engine, build_evidence(settings, influx_client, engine), build_router(settings), build_outbox(settings, engine, now),
        now=now, recurrence_days=settings.tickets_recurrence_days, auto_resolve=settings.tickets_auto_resolve,
        registry=_registry(engine))


def build_workflow(settings: Settings, engine: Engine, *, now: Callable[[], int] = _wall_ms) -> Workflow:
    return Workflow(engine, build_outbox(settings, engine, now), now=now)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic task of the ticket stage, for the scheduler of `faultline run`."""

    name: str
    run: Callable[[], object]
    every_s: float


def scheduled_jobs(service: TicketService, outbox: Outbox | None, settings: Settings | None = None) -> list[Job]:
    """Evidence retries (every 60 s) and, with a webhook, deliveries (every 5 s) and pruning (hourly);
    with ``report_schedule`` set, the review job (hourly, `tickets.review.ReviewJob`)."""
    jobs = [Job("tickets-evidence-retry", service.refresh_incomplete_evidence, 60.0)]
    if outbox is not None:
        jobs.append(Job("tickets-webhook-deliver", outbox.deliver_due, 5.0))
        jobs.append(Job("tickets-webhook-prune", outbox.prune, 3600.0))
    if settings is not None and settings.report_schedule:
        jobs.append(Job("tickets-review", build_review_job(settings, service.engine).run, 3600.0))
    return jobs


def build_review_job(settings: Settings, engine: Engine, *, now: Callable[[], int] = _wall_ms):
    from pathlib import Path

    from tickets.review import ReviewJob, webhook_announcer

    announce = (webhook_announcer(settings.tickets_webhook_url, settings.tickets_webhook_secret.get_secret_value())
                if settings.tickets_webhook_url else None)
    return ReviewJob(engine, Path(settings.data_dir) / "reports", tuple(settings.report_schedule.split(",")),
                     settings.report_format, announce=announce, recurrence_days=settings.tickets_recurrence_days,
                     now=now)
