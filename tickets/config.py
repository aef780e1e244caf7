"""`TicketsConfig`: the knobs of the ticket stage, read once from settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True, slots=True)
class TicketsConfig:
    """Ticket stage configuration.

    - `routing_file`: YAML routing rules (`tickets.routing`); empty: no team or assignee;
    - `webhook_url` / `webhook_secret`: where each ticket change is POSTed, signed
      (`tickets.webhook`); an empty URL disables the webhook;
    - `grafana_link`: the URL template of each ticket's Grafana link;
    - `evidence_log_lines`: log lines kept as evidence, ERROR and FATAL first;
    - `recurrence_days`: an alert key firing again within this many days of its
      ticket's resolution reopens it (also the window of the recurrence KPIs);
    - `auto_resolve`: resolve an unacknowledged ticket when its alert resolves;
    - `report_schedule` / `report_format` / `reports_dir`: the scheduled reviews
      (`tickets.review.ReviewJob`): which periods (weekly, monthly), in which format
      (pdf, html, md), where. Settings validate these; the config takes them as given.

    >>> TicketsConfig(webhook_url="https://hooks.example/t", webhook_secret="s3cret")
    TicketsConfig(routing_file='', webhook_url='https://hooks.example/t', grafana_link='', evidence_log_lines=50, \
recurrence_days=7.0, auto_resolve=True, report_schedule=(), report_format='pdf', reports_dir=None)
    """

    routing_file: str = ""
    webhook_url: str = ""
    webhook_secret: str = field(default="", repr=False)
    grafana_link: str = ""
    evidence_log_lines: int = 50
    recurrence_days: float = 7.0
    auto_resolve: bool = True
    report_schedule: tuple[str, ...] = ()
    report_format: str = "pdf"
    reports_dir: Path | None = None

    @classmethod
    def from_settings(cls, settings) -> TicketsConfig:
        """The configuration from `faultline.settings.Settings` (any object with its ``tickets_*``/``report_*`` fields)."""
        schedule = tuple(s.strip() for s in settings.report_schedule.split(",") if s.strip())
        return cls(
            routing_file=settings.tickets_routing_file,
            webhook_url=settings.tickets_webhook_url,
            webhook_secret=settings.tickets_webhook_secret.get_secret_value(),
            grafana_link=settings.tickets_grafana_link,
            evidence_log_lines=settings.tickets_evidence_log_lines,
            recurrence_days=settings.tickets_recurrence_days,
            auto_resolve=settings.tickets_auto_resolve,
            report_schedule=schedule,
            report_format=settings.report_format,
            reports_dir=Path(settings.data_dir) / "reports",
        )
