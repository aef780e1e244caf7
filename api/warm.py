"""The aggregates a person's first look needs, computed when the API starts rather than on that look.

The queue page, the ticket list and the KPIs read whole-table aggregates
that `tickets.aggregates` keeps until a ticket changes; a freshly started
process has none, so its first requests would each wait for one (a few
hundred milliseconds at 100,000 tickets, and every request in flight behind
them). `warm` computes the default views' aggregates once, on a thread of
its own, as soon as the app starts; a request that comes first simply
computes its own as before.
"""

from __future__ import annotations

import logging
import threading
from typing import Callable

from sqlalchemy import Engine

from tickets.after_sales_queries import after_sales_report
from tickets.kpi_queries import kpi_report
from tickets.queue import QueueQuery, headline, queue_page
from tickets.ticket_queries import TicketFilter, page_of_tickets

log = logging.getLogger("faultline.api")


def warm(engine: Engine, recurrence_days: float, panel_from_ms: int) -> None:
    """Compute (and so keep) the aggregates of the default queue page, ticket list and KPI report."""
    kpi_report(engine)
    after_sales_report(engine, recurrence_days=recurrence_days)
    after_sales_report(engine, opened_from_ms=panel_from_ms, recurrence_days=recurrence_days)
    headline(engine)
    queue_page(engine, QueueQuery(TicketFilter()))  # its counts are those of every state filter
    page_of_tickets(engine, TicketFilter(), 1, 0)


def warm_behind(engine: Engine, recurrence_days: float, panel_from: Callable[[], int]) -> threading.Thread:
    """`warm` on a daemon thread; a store that cannot be read yet is left to the first request."""
    def run() -> None:
        try:
            warm(engine, recurrence_days, panel_from())
        except Exception:  # noqa: BLE001 - warming is an optimisation; requests compute what they need
            log.warning("could not compute the ticket aggregates ahead of the first request", exc_info=True)

    thread = threading.Thread(target=run, name="aggregate-warm", daemon=True)
    thread.start()
    return thread
