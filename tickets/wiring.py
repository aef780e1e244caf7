"""The ticket stage assembled from its configuration and the clients it is given.

`build_service` puts the parts together (InfluxDB evidence, routing,
webhook outbox, device registry) over an SQL engine and an InfluxDB client
built by the caller (`faultline.wiring`); the configuration is a
`tickets.config.TicketsConfig`. Nothing here runs at import.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Callable

from sqlalchemy import Engine

from runtime.clock import wall_ms
from tickets.config import TicketsConfig
from tickets.influx_evidence import EvidenceWindow, InfluxEvidence
from tickets.routing import Router
from tickets.service import TicketService
from tickets.webhook import Outbox
from tickets.workflow import Workflow


def build_router(config: TicketsConfig) -> Router | None:
    """The routing rules, or None when no file is configured (`RoutingError` if it is bad)."""
    return Router.from_file(config.routing_file) if config.routing_file else None


def build_outbox(config: TicketsConfig, engine: Engine, now: Callable[[], int] = wall_ms) -> Outbox | None:
    """The webhook outbox, or None when no webhook URL is configured."""
    if not config.webhook_url:
        return None
    return Outbox(engine, config.webhook_url, config.webhook_secret, now=now)


def build_evidence(config: TicketsConfig, influx, engine: Engine | None = None) -> InfluxEvidence:
    """Evidence from InfluxDB through `influx` (an `influx.client.InfluxClient`); with `engine`, metric
    windows name the devices' own metrics (their catalogue)."""
    return InfluxEvidence(influx, config.grafana_link, EvidenceWindow(log_lines=config.evidence_log_lines),
                          _field_names(engine))


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


def build_service(config: TicketsConfig, engine: Engine, influx, *, now: Callable[[], int] = wall_ms) -> TicketService:
    """`TicketService` over `engine`, gathering evidence through `influx` (routing, webhook, registry from `config`)."""
    return TicketService(
        engine, build_evidence(config, influx, engine), build_router(config), build_outbox(config, engine, now),
        now=now, recurrence_days=config.recurrence_days, auto_resolve=config.auto_resolve,
        registry=_registry(engine))


def build_workflow(config: TicketsConfig, engine: Engine, *, now: Callable[[], int] = wall_ms) -> Workflow:
    """The technicians' side of the tickets over `engine` (queuing webhook deliveries when one is configured)."""
    return Workflow(engine, build_outbox(config, engine, now), now=now)


@dataclass(frozen=True, slots=True)
class Job:
    """A periodic task of the ticket stage, for the scheduler of `faultline run`."""

    name: str
    run: Callable[[], object]
    every_s: float


def scheduled_jobs(service: TicketService, outbox: Outbox | None, config: TicketsConfig | None = None) -> list[Job]:
    """Evidence retries (every 60 s) and, with a webhook, deliveries (every 5 s) and pruning (hourly);
    with a ``report_schedule`` in `config`, the review job (hourly, `tickets.review.ReviewJob`)."""
    jobs = [Job("tickets-evidence-retry", service.refresh_incomplete_evidence, 60.0)]
    if outbox is not None:
        jobs.append(Job("tickets-webhook-deliver", outbox.deliver_due, 5.0))
        jobs.append(Job("tickets-webhook-prune", outbox.prune, 3600.0))
    if config is not None and config.report_schedule:
        jobs.append(Job("tickets-review", build_review_job(config, service.engine).run, 3600.0))
    return jobs


def build_review_job(config: TicketsConfig, engine: Engine, *, now: Callable[[], int] = wall_ms):
    """The scheduled review (`tickets.review.ReviewJob`) writing into ``config.reports_dir``."""
    from tickets.review import ReviewJob, webhook_announcer

    announce = webhook_announcer(config.webhook_url, config.webhook_secret) if config.webhook_url else None
    return ReviewJob(engine, config.reports_dir, config.report_schedule, config.report_format, announce=announce,
                     recurrence_days=config.recurrence_days, now=now)
